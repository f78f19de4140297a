package host

import (
	"context"
	"encoding/json"
	"errors"
	"sync"

	"github.com/ompdev/omp/plugins/internal/wire"
	"github.com/ompdev/omp/plugins/sdk"
)

// mux runs a process's tasks on one long-lived Tasks stream: a task costs a
// frame each way instead of a gRPC call of its own, whose setup was most of
// what a short task cost (BenchmarkNoopRPC). Frames carry the task's id.
type mux struct {
	stream wire.Kind_TasksClient
	sendMu sync.Mutex // gRPC streams are not safe for concurrent sends

	mu    sync.Mutex
	next  uint64
	calls map[uint64]*call
	err   error         // why the stream ended; set before done is closed
	done  chan struct{} // closed when the stream ended
}

// call is one task in flight on a mux. The receiving goroutine queues its
// events and wakes the task's goroutine, which hands them to the task's
// Emitter: a slow Emitter holds up its own task only.
type call struct {
	wake   chan struct{} // capacity 1
	mu     sync.Mutex
	events []*wire.Event
}

// streamBroken is the error of a task whose mux stream ended before the
// task did.
type streamBroken struct{ err error }

func (e streamBroken) Error() string { return e.err.Error() }
func (e streamBroken) Unwrap() error { return e.err }

func openMux(kind wire.KindClient) (*mux, error) {
	// The stream lives as long as the process's connection: killing the
	// process closes it, which ends the stream.
	stream, err := kind.Tasks(context.Background())
	if err != nil {
		return nil, err
	}
	m := &mux{stream: stream, calls: map[uint64]*call{}, done: make(chan struct{})}
	go m.receive()
	return m, nil
}

func (m *mux) receive() {
	for {
		f, err := m.stream.Recv()
		if err != nil {
			m.mu.Lock()
			m.err = err
			m.mu.Unlock()
			close(m.done)
			return
		}
		if f.Event == nil || f.Event.Event == nil {
			continue
		}
		m.mu.Lock()
		c := m.calls[f.Id]
		switch f.Event.Event.(type) {
		case *wire.Event_Result, *wire.Event_Error:
			delete(m.calls, f.Id)
		}
		m.mu.Unlock()
		if c == nil {
			// A cancelled task's last words.
			continue
		}
		c.mu.Lock()
		c.events = append(c.events, f.Event)
		c.mu.Unlock()
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
}

func (m *mux) send(f *wire.TaskFrame) error {
	m.sendMu.Lock()
	defer m.sendMu.Unlock()
	return m.stream.Send(f)
}

// run runs t and returns its result. An error of type streamBroken means
// the stream ended first; when ctx ends first, the error is its cause.
func (m *mux) run(ctx context.Context, t *wire.Task, e sdk.Emitter) (json.RawMessage, error) {
	c := &call{wake: make(chan struct{}, 1)}
	m.mu.Lock()
	if m.err != nil {
		m.mu.Unlock()
		return nil, streamBroken{m.err}
	}
	m.next++
	id := m.next
	m.calls[id] = c
	m.mu.Unlock()
	if err := m.send(&wire.TaskFrame{Id: id, Task: t}); err != nil {
		// Send fails with io.EOF when the stream ended: Recv has the
		// reason.
		<-m.done
		return nil, streamBroken{m.err}
	}
	for {
		select {
		case <-c.wake:
		case <-m.done:
			// What arrived before the end still counts.
			if res, over, err := c.deliver(e); over {
				return res, err
			}
			return nil, streamBroken{m.err}
		case <-ctx.Done():
			m.mu.Lock()
			_, running := m.calls[id]
			delete(m.calls, id)
			m.mu.Unlock()
			if running {
				// Off the task's goroutine: the cancel must not wait
				// for room on the stream.
				go func() { _ = m.send(&wire.TaskFrame{Id: id}) }()
			}
			return nil, context.Cause(ctx)
		}
		if res, over, err := c.deliver(e); over {
			return res, err
		}
	}
}

// deliver hands the queued events to e, and reports the task's outcome if
// its last event came.
func (c *call) deliver(e sdk.Emitter) (json.RawMessage, bool, error) {
	c.mu.Lock()
	events := c.events
	c.events = nil
	c.mu.Unlock()
	for _, ev := range events {
		if res, over, err := handle(ev, e); over {
			return res, over, err
		}
	}
	return nil, false, nil
}

// handle hands a report of a running task to e, or returns the task's
// outcome if ev is its last event.
func handle(ev *wire.Event, e sdk.Emitter) (res json.RawMessage, over bool, err error) {
	switch ev := ev.Event.(type) {
	case *wire.Event_Log:
		e.Log(ev.Log.Line)
	case *wire.Event_Metric:
		e.Metric(ev.Metric.Name, ev.Metric.Value, int(ev.Metric.Step))
	case *wire.Event_Progress:
		e.Progress(int(ev.Progress.Done), int(ev.Progress.Total))
	case *wire.Event_Result:
		return json.RawMessage(ev.Result.Json), true, nil
	case *wire.Event_Error:
		err := errors.New(ev.Error.Message)
		if ev.Error.Permanent {
			err = sdk.Permanent(err)
		}
		return nil, true, err
	}
	return nil, false, nil
}
