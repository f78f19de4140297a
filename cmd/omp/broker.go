package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ompdev/omp/internal/redact"
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
		cmd.Flags().Lookup("broker").DefValue = redact.URL(def)
	}
}

// checkBroker validates a broker URL: a wrong one is a usage error.
func checkBroker(url string) error {
	if err := amqpbus.CheckURL(url); err != nil {
		return withCode(ExitUsage, err)
	}
	return nil
}

// busOptions tune the bus for its user.
type busOptions struct {
	// prefetch is how many task messages a worker holds unacknowledged:
	// its --prefetch window, at least its concurrency.
	prefetch int
	name     string
	// log, if set, gets the bus's records, redacted, its warnings and
	// errors (a connection lost, reconnecting) at most once every 30
	// seconds each.
	log *slog.Logger
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
	if o.log != nil {
		cfg.Logger = slog.New(newThrottle(o.log.Handler(), 30*time.Second))
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
