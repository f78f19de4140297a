package runtime

import (
	"context"
	"os"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
)

// controlLoop applies runners' Control messages.
func (w *Worker) controlLoop(ch <-chan *message.Message) {
	for msg := range ch {
		if w.resubscribed(msg) {
			continue
		}
		c, err := DecodeControl(msg)
		msg.Ack()
		if err != nil {
			w.log.Error("reading control message", "error", err)
			continue
		}
		switch c.Type {
		case ControlPing:
			w.publishHeartbeat(false)
			continue
		case ControlResync:
			w.resync(c.RunID)
			continue
		}
		if c.Type != ControlCancel && c.Type != ControlDrain {
			continue // from a newer runner: not for this worker
		}
		now := time.Now()
		w.mu.Lock()
		// Forget runs long over, so the map stays small on a worker that
		// lives for months.
		for id, mk := range w.runs {
			if now.Sub(mk.when) > time.Hour {
				delete(w.runs, id)
			}
		}
		w.runs[c.RunID] = runMark{typ: c.Type, when: now}
		if c.Type == ControlCancel {
			for k, j := range w.running {
				if k.run == c.RunID {
					j.cancel(errRunCancelled)
				}
			}
		}
		w.mu.Unlock()
	}
}

func (w *Worker) heartbeatLoop(life context.Context) {
	w.publishHeartbeat(false)
	t := time.NewTicker(w.cfg.HeartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-life.Done():
			return
		case <-t.C:
			w.publishHeartbeat(false)
		}
	}
}

func (w *Worker) publishHeartbeat(stopping bool) {
	w.mu.Lock()
	running := make([]string, 0, len(w.running))
	for k := range w.running {
		running = append(running, k.run+"/"+k.task)
	}
	w.mu.Unlock()
	msg, err := EncodeHeartbeat(&Heartbeat{
		Worker:      w.cfg.Name,
		Host:        w.host,
		PID:         os.Getpid(),
		Labels:      w.cfg.Labels,
		Concurrency: w.cfg.Concurrency,
		Running:     running,
		Time:        time.Now(),
		Interval:    Duration(w.cfg.HeartbeatInterval),
		Stopping:    stopping,
		Chains:      true,
	})
	if err == nil {
		err = w.pub.Publish(WorkersTopic, msg)
	}
	if err != nil {
		w.log.Error("heartbeat", "error", err)
	}
}
