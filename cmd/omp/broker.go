package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/spf13/cobra"

	"github.com/ompdev/omp/runtime"
	"github.com/ompdev/omp/runtime/amqpbus"
)

// brokerEnv names the environment variable that gives --broker its default.
const brokerEnv = "OMP_BROKER"

// addBrokerFlag adds --broker to cmd, defaulting to $OMP_BROKER. The
// default is shown redacted in --help, since it may hold a password.
func addBrokerFlag(cmd *cobra.Command, p *string) {
	def := os.Getenv(brokerEnv)
	cmd.Flags().StringVar(p, "broker", def, "RabbitMQ URL, amqp://USER:PASS@HOST:PORT/VHOST or amqps:// (default $"+brokerEnv+")")
	if def != "" {
		cmd.Flags().Lookup("broker").DefValue = redactURL(def)
	}
}

// checkBroker validates a broker URL: a wrong one is a usage error.
func checkBroker(url string) error {
	if err := amqpbus.CheckURL(url); err != nil {
		return withCode(ExitUsage, err)
	}
	return nil
}

// redactURL hides the password of a broker URL for logs and messages.
func redactURL(url string) string { return amqpbus.RedactURL(url) }

// busOptions tune the bus for its user.
type busOptions struct {
	// prefetch is how many task messages a worker holds unacknowledged:
	// its --prefetch window, at least its concurrency.
	prefetch int
	name     string
	// logf, if set, gets one line per problem with the broker connection
	// (lost, reconnecting), already redacted.
	logf func(format string, args ...any)
	// wait is how long to wait for a broker that cannot be reached, and
	// onWait is told once when the waiting starts.
	wait   time.Duration
	onWait func(error)
}

// openBus returns the bus of a run: the embedded bus when brokerURL is
// empty, else RabbitMQ. A bad URL is a usage error (exit 2), a broker that
// cannot be reached an infrastructure error (exit 3) naming its host and
// port, never its password. Close the bus when done.
func openBus(ctx context.Context, brokerURL string, o busOptions) (runtime.Bus, error) {
	if brokerURL == "" {
		return runtime.NewEmbeddedBus(runtime.EmbeddedConfig{}), nil
	}
	return openAMQP(ctx, brokerURL, o)
}

func openAMQP(ctx context.Context, brokerURL string, o busOptions) (*amqpbus.Bus, error) {
	if err := checkBroker(brokerURL); err != nil {
		return nil, err
	}
	cfg := amqpbus.Config{
		URL:      brokerURL,
		Name:     o.name,
		Prefetch: o.prefetch,
		Prefix:   os.Getenv("OMP_BROKER_PREFIX"),

		ConnectWait: o.wait,
		OnWait:      o.onWait,
	}
	if o.logf != nil {
		cfg.Logger = newErrorLogger(o.logf)
	}
	b, err := amqpbus.New(ctx, cfg)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return nil, withCode(ExitCancelled, nil)
		}
		// One line: amqp091-go's errors may span several.
		msg := strings.ReplaceAll(err.Error(), "\n", " ")
		return nil, withCode(ExitInfra, fmt.Errorf("%s", msg))
	}
	return b, nil
}

// errorLogger passes Watermill's errors on as one line each, at most one a
// message every 30 seconds (a broker that stays away would otherwise get a
// line per reconnection attempt), and drops the rest, which is chatter
// about channels opening and closing.
type errorLogger struct {
	logf func(format string, args ...any)
	mu   *sync.Mutex
	last map[string]time.Time
}

func newErrorLogger(logf func(format string, args ...any)) errorLogger {
	return errorLogger{logf: logf, mu: new(sync.Mutex), last: map[string]time.Time{}}
}

func (l errorLogger) Error(msg string, err error, _ watermill.LogFields) {
	now := time.Now()
	l.mu.Lock()
	if t, ok := l.last[msg]; ok && now.Sub(t) < 30*time.Second {
		l.mu.Unlock()
		return
	}
	l.last[msg] = now
	l.mu.Unlock()
	if err != nil {
		l.logf("broker: %s: %s", msg, strings.ReplaceAll(err.Error(), "\n", " "))
	} else {
		l.logf("broker: %s", msg)
	}
}
func (errorLogger) Info(string, watermill.LogFields)                   {}
func (errorLogger) Debug(string, watermill.LogFields)                  {}
func (errorLogger) Trace(string, watermill.LogFields)                  {}
func (l errorLogger) With(watermill.LogFields) watermill.LoggerAdapter { return l }
