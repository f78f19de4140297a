package amqpbus

import (
	"context"
	"errors"
	"io"
	"net"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// connect opens a connection of the bus. A broker that cannot be reached
// yet (refused, reset, shutting down) is tried again until
// Config.ConnectWait has passed since start, telling Config.OnWait once;
// a broker that answers and refuses (credentials, vhost) fails at once.
func (b *Bus) connect(ctx context.Context, role string, start time.Time) (*conn, error) {
	told := false
	for wait := 200 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		c, err := dialConn(b.cfg.URL, b.amqpConfig(role), b.log, 200*time.Millisecond, b.cfg.ReconnectMax)
		if err == nil {
			return c, nil
		}
		left := b.cfg.ConnectWait - time.Since(start)
		if !unreachable(err) || left <= 0 {
			return nil, b.dialError(err, start)
		}
		if !told && b.cfg.OnWait != nil {
			told = true
			b.cfg.OnWait(b.dialError(err, start))
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(min(wait, left)):
		}
	}
}

// unreachable tells a broker that is away (which may come back) from one
// that refuses us.
func unreachable(err error) bool {
	var nerr net.Error
	var aerr *amqp.Error
	switch {
	case errors.As(err, &nerr), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return true
	case errors.As(err, &aerr):
		return aerr.Code == amqp.ConnectionForced || aerr.Code == amqp.FrameError && aerr.Recover
	}
	return false
}
