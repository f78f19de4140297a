// Package amqpbus is the runtime's Bus on RabbitMQ, Watermill messages
// carried by amqp091-go, so that `omp run --broker` and `omp worker`
// processes on many machines share one pipeline's tasks.
//
// It once went through watermill-amqp and no longer does: its reconnecting
// connection races with its readers, its subscriber waited a fixed 100ms to
// close and served a work queue one delivery at a time, and its publisher
// waited for each confirm before the next publish. The connection (conn.go),
// the publisher and the three kinds of subscription here do what it did,
// with what this bus needs.
//
// What it guarantees, besides the runtime.Bus contract:
//   - A task topic is a durable quorum queue shared by every worker of its
//     label (competing consumers), its messages persistent and every publish
//     confirmed by the broker. A message the broker delivered
//     Config.MaxDeliveries times without an ack goes to the dead-letter
//     queue PREFIX+omp.dead, and its run receives a permanent FAILURE event
//     naming the reason, so a poison message cannot loop.
//   - Many tasks published at once travel in packs, several to an AMQP
//     message (see pack.go), each handed on and settled as if it came
//     alone; a pack delivered a second time is split first, so that each
//     task counts its own deliveries towards MaxDeliveries.
//   - A task message that waits in a worker longer than Config.HoldLimit
//     (every slot busy) goes back to the end of its queue as a fresh copy,
//     so that waiting never meets RabbitMQ's consumer_timeout and never
//     counts as a failed delivery; a worker acks a task when it claims it,
//     so running tasks, however long, do not meet it either.
//   - A run's event queue is declared by Prepare and deleted when the
//     runner's Events subscription ends. Events and heartbeats are
//     transient (confirmed, but not written to disk): a broker crash may
//     lose some, which the runtime's leases and re-dispatch recover.
//   - Connections are re-established with backoff when the broker goes
//     away; subscriptions resume and publishes wait (up to PublishTimeout).
//   - No error or log line contains the broker's password.
package amqpbus

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/ompdev/omp/internal/redact"
	"github.com/ompdev/omp/runtime"
)

// ErrClosed is returned by the bus's operations after Close.
var ErrClosed = errors.New("amqpbus: bus is closed")

// Bus is a runtime.Bus on RabbitMQ.
type Bus struct {
	cfg Config
	red redact.Secrets
	log watermill.LoggerAdapter

	pubConn *conn
	subConn *conn

	pub    *publisher
	tasks  *taskSubscriber
	events *eventSubscriber

	wg        sync.WaitGroup // task consumers and event forwarders
	closed    chan struct{}
	closeOnce sync.Once

	mu       sync.Mutex
	declared map[string]bool // task queues declared by Prepare
}

var _ runtime.Bus = (*Bus)(nil)

// New connects to the broker and declares the dead-letter exchange and
// queue. A broker that cannot be reached is an error within
// Config.DialTimeout, or once Config.ConnectWait has passed, naming its host
// and port but never the password.
func New(ctx context.Context, cfg Config) (*Bus, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	b := &Bus{
		cfg:      cfg,
		red:      redact.Of(cfg.URL),
		closed:   make(chan struct{}),
		declared: map[string]bool{},
	}
	b.log = watermillLogger(cfg.Logger, b.red)
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	var err error
	start := time.Now()
	if b.pubConn, err = b.connect(ctx, "publish", start); err != nil {
		return nil, err
	}
	// The broker is there: the consuming connection is dialled while the
	// publishing one sets up, since each costs the broker milliseconds that
	// every omp run would wait for twice.
	subDone := make(chan error, 1)
	go func() {
		var err error
		b.subConn, err = b.connect(ctx, "consume", start)
		subDone <- err
	}()
	if err = b.withChannel(ctx, b.declareDead); err != nil {
		err = fmt.Errorf("amqpbus: %w", err)
	} else {
		b.pub = newPublisher(b)
	}
	if subErr := <-subDone; subErr != nil {
		if b.pub != nil {
			b.pub.close()
		}
		b.pubConn.Close()
		return nil, subErr
	}
	fail := func(err error) (*Bus, error) {
		b.subConn.Close()
		b.pubConn.Close()
		return nil, b.red.Error(err)
	}
	if err != nil {
		return fail(err)
	}
	b.tasks = &taskSubscriber{b: b, runs: map[string]*runCheck{}}
	b.events = &eventSubscriber{b: b}
	b.wg.Add(1)
	go b.redeclare()
	return b, nil
}

// amqpConfig is the configuration of the bus's connection for role.
func (b *Bus) amqpConfig(role string) amqp.Config {
	name := b.cfg.Name
	if name == "" {
		host, _ := os.Hostname()
		name = "omp " + host + "-" + strconv.Itoa(os.Getpid())
	}
	return amqp.Config{
		Dial:       amqp.DefaultDial(b.cfg.DialTimeout),
		Heartbeat:  10 * time.Second,
		Locale:     "en_US",
		Properties: amqp.Table{"connection_name": name + " (" + role + ")"},
	}
}

// dialError makes the one-line error of a broker that cannot be reached,
// saying how long New tried if it tried more than once.
func (b *Bus) dialError(err error, start time.Time) error {
	msg := strings.ReplaceAll(b.red.Text(err.Error()), "\n", " ")
	if b.cfg.ConnectWait > 0 && unreachable(err) {
		if d := time.Since(start); d >= b.cfg.ConnectWait {
			msg += " (gave up after " + d.Round(time.Second).String() + ")"
		}
	}
	return &DialError{Host: HostPort(b.cfg.URL), msg: msg, err: err}
}

// DialError is the error of a broker that cannot be reached or refuses the
// connection.
type DialError struct {
	Host string // host:port
	msg  string
	err  error
}

func (e *DialError) Error() string {
	return fmt.Sprintf("cannot connect to broker %s: %s", e.Host, e.msg)
}

func (e *DialError) Unwrap() error { return e.err }

// withChannel runs fn on a fresh channel of the publishing connection,
// waiting for the connection while the broker is away.
func (b *Bus) withChannel(ctx context.Context, fn func(*amqp.Channel) error) error {
	deadline := time.Now().Add(b.cfg.PublishTimeout)
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		err := b.tryChannel(fn)
		if err == nil {
			return nil
		}
		var aerr *amqp.Error
		if errors.As(err, &aerr) && !aerr.Recover && aerr.Code != amqp.ChannelError && aerr.Code != amqp.ConnectionForced {
			// A refusal of the broker (e.g. PRECONDITION_FAILED), not a
			// lost connection: retrying cannot help.
			return err
		}
		if time.Now().After(deadline) {
			return err
		}
		if err := b.sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// sleep waits for d, and returns early with ctx's error when ctx ends or
// ErrClosed when the bus closes: the pause between two tries of a retry
// loop.
func (b *Bus) sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-b.closed:
		return ErrClosed
	case <-time.After(d):
		return nil
	}
}

func (b *Bus) tryChannel(fn func(*amqp.Channel) error) error {
	if !b.pubConn.IsConnected() {
		return errNotConnected
	}
	conn := b.pubConn.Connection()
	if conn == nil || conn.IsClosed() {
		return errNotConnected
	}
	ch, err := conn.Channel()
	if err != nil {
		return err
	}
	defer ch.Close()
	return fn(ch)
}

var errNotConnected = &amqp.Error{Code: amqp.ChannelError, Reason: "not connected to the broker", Recover: true}

// Publisher publishes to task, event and fan-out topics. A publish returns
// once the broker confirmed every message; while the broker is away it
// retries, up to Config.PublishTimeout.
func (b *Bus) Publisher() message.Publisher { return b.pub }

// Tasks subscribes to a task topic. Each subscription holds up to
// Config.Prefetch messages unacknowledged; runtime.AnyLabel is not
// supported.
func (b *Bus) Tasks() message.Subscriber { return b.tasks }

// Events subscribes to a run's event topic; the event queue is deleted when
// the subscription's context ends.
func (b *Bus) Events() message.Subscriber { return b.events }

// Fanout subscribes to runtime.WorkersTopic or runtime.ControlTopic.
func (b *Bus) Fanout() message.Subscriber { return fanoutSubscriber{b} }

// Prepare declares the task queues of labels and the event queue of runID.
func (b *Bus) Prepare(ctx context.Context, runID string, labels []string) error {
	var todo []string
	b.mu.Lock()
	for _, l := range labels {
		if l == runtime.AnyLabel {
			b.mu.Unlock()
			return errors.New("amqpbus: label * (any) is served by the embedded bus only")
		}
		if !b.declared[l] {
			todo = append(todo, l)
		}
	}
	b.mu.Unlock()
	err := b.withChannel(ctx, func(ch *amqp.Channel) error {
		for _, l := range todo {
			if err := b.declareTaskQueue(ch, runtime.TaskTopic(l)); err != nil {
				return err
			}
		}
		if runID != "" {
			return b.declareEventQueue(ch, runID)
		}
		return nil
	})
	if err != nil {
		return b.red.Error(fmt.Errorf("amqpbus: prepare run %s: %w", runID, err))
	}
	b.mu.Lock()
	for _, l := range todo {
		b.declared[l] = true
	}
	b.mu.Unlock()
	return nil
}

// Close ends every subscription, then closes the connections.
func (b *Bus) Close() error {
	b.closeOnce.Do(func() {
		close(b.closed)
		b.wg.Wait()
		b.pub.close()
		b.subConn.Close()
		b.pubConn.Close()
	})
	return nil
}

func (b *Bus) isClosed() bool {
	select {
	case <-b.closed:
		return true
	default:
		return false
	}
}

// DeleteAll deletes every queue and exchange of the bus's prefix that this
// bus knows the name of: the dead-letter exchange and queue, the fan-out
// exchanges and the task queues of labels. Tests call it to leave the
// broker as they found it.
func (b *Bus) DeleteAll(ctx context.Context, labels ...string) error {
	return b.withChannel(ctx, func(ch *amqp.Channel) error {
		var errs []error
		for _, l := range labels {
			if _, err := ch.QueueDelete(b.name(runtime.TaskTopic(l)), false, false, false); err != nil {
				return err
			}
		}
		if _, err := ch.QueueDelete(b.name(deadName), false, false, false); err != nil {
			errs = append(errs, err)
		}
		for _, x := range []string{deadName, runtime.WorkersTopic, runtime.ControlTopic} {
			if err := ch.ExchangeDelete(b.name(x), false, false); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	})
}

// DeadLetters returns how many messages wait in the dead-letter queue.
func (b *Bus) DeadLetters(ctx context.Context) (int, error) {
	var n int
	err := b.withChannel(ctx, func(ch *amqp.Channel) error {
		q, err := ch.QueueDeclarePassive(b.name(deadName), true, false, false, false, nil)
		n = q.Messages
		return err
	})
	return n, err
}
