package amqpbus

import (
	"math/rand/v2"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	amqp "github.com/rabbitmq/amqp091-go"
)

// conn is a connection to the broker that is dialled again, with backoff,
// whenever it is lost, until Close. It takes the place of watermill-amqp's
// ConnectionWrapper (v3.0.2), whose reconnecting goroutine replaces its
// connection and its connected channel without a lock while other
// goroutines read them: a data race that -race reports on every broker
// restart.
type conn struct {
	url string
	cfg amqp.Config
	log watermill.LoggerAdapter
	// first and max bound the backoff between attempts to reconnect.
	first, max time.Duration

	mu sync.Mutex
	c  *amqp.Connection // nil while the broker is away

	done      chan struct{} // closed by Close
	closeOnce sync.Once
	wg        sync.WaitGroup
}

// dialConn dials the broker once and, if it answers, keeps the connection up
// until Close.
func dialConn(url string, cfg amqp.Config, log watermill.LoggerAdapter, first, max time.Duration) (*conn, error) {
	c, err := amqp.DialConfig(url, cfg)
	if err != nil {
		return nil, err
	}
	k := &conn{url: url, cfg: cfg, log: log, first: first, max: max, c: c, done: make(chan struct{})}
	k.wg.Add(1)
	go k.keep(c)
	return k, nil
}

// Connection returns the current connection, nil while the broker is away;
// it may close at any moment.
func (k *conn) Connection() *amqp.Connection {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.c
}

// IsConnected reports whether a connection is up.
func (k *conn) IsConnected() bool {
	c := k.Connection()
	return c != nil && !c.IsClosed()
}

// keep waits for c to close and dials again until it has a connection or
// the conn is closed.
func (k *conn) keep(c *amqp.Connection) {
	defer k.wg.Done()
	for {
		select {
		case err := <-c.NotifyClose(make(chan *amqp.Error, 1)):
			k.log.Error("Broker connection lost, reconnecting", err, nil)
		case <-k.done:
			return
		}
		k.mu.Lock()
		k.c = nil
		k.mu.Unlock()
		wait := k.first
		for {
			// Jitter, so that the workers of a restarted broker do not
			// all come back at the same instant.
			d := wait/2 + rand.N(wait/2+1)
			select {
			case <-k.done:
				return
			case <-time.After(d):
			}
			var err error
			if c, err = amqp.DialConfig(k.url, k.cfg); err == nil {
				break
			}
			k.log.Error("Cannot reconnect to the broker, retrying", err, nil)
			wait = min(wait*3/2, k.max)
		}
		k.mu.Lock()
		k.c = c
		k.mu.Unlock()
		k.log.Info("Reconnected to the broker", nil)
	}
}

// Close stops reconnecting and closes the connection.
func (k *conn) Close() {
	k.closeOnce.Do(func() {
		close(k.done)
		k.wg.Wait()
		if c := k.Connection(); c != nil {
			c.Close()
		}
	})
}
