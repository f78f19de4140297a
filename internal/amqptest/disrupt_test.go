package amqptest_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/ompdev/omp/internal/amqptest"
	"github.com/ompdev/omp/runtime"
)

// RabbitMQ stops (rabbitmqctl stop_app) in the middle of a run and comes
// back: the runner and the worker reconnect, and the run completes with
// every result exactly once.
func TestBrokerRestartMidRun(t *testing.T) {
	url := amqptest.DisruptVHost(t)
	w := startWorker(t, url, "steady", "--concurrency", "4")

	const n = 80
	g, ids := numbers(n, "100ms")
	var seen successes
	done := make(chan *runtime.Report, 1)
	go func() {
		done <- run(t, g, runtime.Config{
			Bus: runner(t, url), Listener: &seen,
			LeaseInterval: time.Second, DispatchTimeout: 5 * time.Second,
		})
	}()
	w.waitRecords(t, 10, 30*time.Second, "end", "outcome", runtime.EventResult)
	before := w.ended()
	start := amqptest.StopBroker(t)
	down := time.Now()
	time.Sleep(2 * time.Second)
	start()
	t.Logf("broker down for %s after %d results", time.Since(down).Round(time.Millisecond), before)

	var rep *runtime.Report
	select {
	case rep = <-done:
	case <-time.After(90 * time.Second):
		t.Fatal("the run did not complete within 90s of the broker's return")
	}
	wantNumbers(t, rep, n)
	for _, id := range ids {
		if seen.n[id] != 1 {
			t.Errorf("task %s reported SUCCESS %d times, want once", id, seen.n[id])
		}
	}
	select {
	case <-w.done:
		t.Fatalf("the worker exited (%v)", w.err)
	default:
	}
	if after := w.ended(); after <= before {
		t.Errorf("the worker ran nothing after the restart (%d results before, %d in all)", before, after)
	}
	// It said what happened, briefly.
	said := w.records("", "component", "broker")
	if len(said) == 0 || len(said) > 40 {
		t.Errorf("the worker logged %d records about the broker, want a few:\n%s", len(said), w.stderr)
	}
	t.Logf("the worker said:\n%v", said)
	// It is listed again. Its control queue went with the old connection
	// and comes back asynchronously; its periodic heartbeat (every 5s)
	// would answer within askWorkers' deadline even if pings were not
	// heard yet.
	askWorkers(t, url, func(live []listedWorker) bool {
		return len(live) == 1 && live[0].Name == "steady"
	}, "steady")
}

// A task that runs longer than RabbitMQ's consumer_timeout, on a worker
// whose only slot it takes while the next task's message waits: the worker
// acks on claim and renews a lease, and the waiting message is put back
// before it can time out, so neither is redelivered nor dead-lettered.
// A consumer that holds a message unacknowledged, as a worker acking at the
// end of the task would, has its channel closed in the same conditions.
func TestLongTaskBeyondConsumerTimeout(t *testing.T) {
	url := amqptest.DisruptVHost(t)
	// consumer_timeout is checked on each channel's tick, once a minute by
	// default: shorten both for channels opened from now on, and put the
	// old values back.
	for key, v := range map[string]string{"consumer_timeout": "5000", "channel_tick_interval": "1000"} {
		old := strings.TrimSpace(amqptest.Ctl(t, "eval", fmt.Sprintf("application:get_env(rabbit, %s).", key)))
		amqptest.Ctl(t, "eval", fmt.Sprintf("application:set_env(rabbit, %s, %s).", key, v))
		t.Cleanup(func() {
			val, ok := strings.CutPrefix(old, "{ok,")
			switch {
			case ok:
				amqptest.Ctl(t, "eval", fmt.Sprintf("application:set_env(rabbit, %s, %s).", key, strings.TrimSuffix(val, "}")))
			case key == "channel_tick_interval":
				// Unset, it breaks every new channel (rabbit_channel
				// matches {ok, _}): put RabbitMQ's default.
				amqptest.Ctl(t, "eval", "application:set_env(rabbit, channel_tick_interval, 60000).")
			default:
				amqptest.Ctl(t, "eval", fmt.Sprintf("application:unset_env(rabbit, %s).", key))
			}
		})
	}

	// The control: a consumer that does not ack loses its channel.
	control := make(chan string, 1)
	go func() { control <- holdUnacked(url, 15*time.Second) }()

	w := startWorker(t, url, "patient", "--concurrency", "1")
	g, _ := numbers(2, "8s")
	bus := runner(t, url)
	var seen successes
	rep := run(t, g, runtime.Config{Bus: bus, Listener: &seen, LeaseInterval: time.Second})
	wantNumbers(t, rep, 2)
	for _, tr := range rep.Tasks {
		if tr.Kind == "echo" && (tr.Attempts != 1 || seen.n[tr.ID] != 1) {
			t.Errorf("task %s: %d attempts, %d successes; want 1 and 1", tr.ID, tr.Attempts, seen.n[tr.ID])
		}
	}
	if s := w.started(); s != 2 {
		t.Errorf("the worker started %d tasks, want 2 (none twice):\n%s", s, w.stderr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if n, err := bus.DeadLetters(ctx); err != nil || n != 0 {
		t.Errorf("dead letters: %d, %v; want none", n, err)
	}
	if got := <-control; !strings.Contains(got, "PRECONDITION_FAILED - delivery acknowledgement") {
		t.Errorf("the control consumer kept its channel (%s): consumer_timeout was not in force", got)
	}
}

// holdUnacked consumes one message on a scratch queue without acking it and
// reports how its channel ended.
func holdUnacked(url string, limit time.Duration) string {
	c, err := amqp.Dial(url)
	if err != nil {
		return err.Error()
	}
	defer c.Close()
	ch, err := c.Channel()
	if err != nil {
		return err.Error()
	}
	q, err := ch.QueueDeclare("", false, true, true, false, nil)
	if err != nil {
		return err.Error()
	}
	if err := ch.Publish("", q.Name, false, false, amqp.Publishing{Body: []byte("hold me")}); err != nil {
		return err.Error()
	}
	closed := ch.NotifyClose(make(chan *amqp.Error, 1))
	d, err := ch.Consume(q.Name, "", false, false, false, false, nil)
	if err != nil {
		return err.Error()
	}
	<-d
	select {
	case e := <-closed:
		if e == nil {
			return "closed without error"
		}
		return e.Error()
	case <-time.After(limit):
		return "still open after " + limit.String()
	}
}
