package amqpbus

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ompdev/omp/internal/redact"
)

// Config configures a Bus. URL is required; everything else has a default.
type Config struct {
	// URL is the broker, amqp:// or amqps:// (TLS), with the vhost as its
	// path.
	URL string
	// Prefix is put before the name of every queue and exchange the bus
	// declares, so that several buses share a vhost without seeing each
	// other (tests). Workers and runners must agree on it.
	Prefix string
	// Name is shown as the connection name in RabbitMQ's tools.
	Name string

	// MaxDeliveries bounds how often RabbitMQ delivers one task message
	// (the quorum queue's x-delivery-limit); a message returned more often
	// goes to the dead-letter queue PREFIX+omp.dead and its task fails.
	// Default 5. Every bus on a broker must use the same value: RabbitMQ
	// refuses to redeclare a queue with other arguments.
	MaxDeliveries int
	// Prefetch is how many task messages one Tasks subscription holds
	// unacknowledged: a worker's window, at least its concurrency (see
	// WorkerPrefetch). Default 1.
	Prefetch int
	// EventPrefetch is how many events the runner's subscription lets
	// RabbitMQ push ahead of its acks. Default 1000.
	EventPrefetch int
	// TaskPack is the most task messages the bus sends to a task queue in
	// one AMQP message, a pack (see pack.go), when many are published at
	// once. Default 16; 1 sends each in a message of its own.
	TaskPack int
	// PublishChannels is the size of the publisher's channel pool, which
	// bounds concurrent publishes. Default Prefetch, at least 8.
	PublishChannels int

	// DialTimeout bounds connecting (TCP, TLS and AMQP handshake) at start
	// and on every reconnect. Default 5s.
	DialTimeout time.Duration
	// ConnectWait is how long New keeps trying to reach a broker that is
	// away (refuses connections, or shuts down) before it fails. Default
	// 0: it fails at once.
	ConnectWait time.Duration
	// OnWait, if set, is called once when New starts waiting for the
	// broker, with the error of the first attempt.
	OnWait func(error)
	// ReconnectMax caps the backoff between reconnection attempts, and so
	// how long after the broker's return the bus may take to notice it.
	// Default 1s.
	ReconnectMax time.Duration
	// PublishTimeout is how long a publish keeps retrying while the broker
	// is away before it fails. Default 2m.
	PublishTimeout time.Duration
	// HoldLimit is how long a Tasks subscription holds a delivered message
	// that no receiver takes (every worker slot busy) before it puts a copy
	// back at the end of the queue and acks the original. This keeps
	// waiting messages clear of RabbitMQ's consumer_timeout, and unlike a
	// requeue it does not count against MaxDeliveries. Default 2s.
	HoldLimit time.Duration
	// EventQueueTTL deletes a run's event queue that nobody used for this
	// long, for runners that died before they could delete it. Default 1h.
	EventQueueTTL time.Duration

	// Logger receives the bus's and Watermill's records, with the broker's
	// password scrubbed; those about channels coming and going are at
	// Debug. Default none.
	Logger *slog.Logger
}

// WorkerPrefetch is the Prefetch of a worker that runs concurrency tasks at
// once, unless told otherwise: 4 per slot, as Celery prefetches, and at
// least 32. A slot that finished a task finds the next one waiting in the
// worker instead of a broker round trip away, and quick tasks need many in
// the window, since each stays in it until its outcome is confirmed and its
// ack sent: with 2 slots, 8 prefetched tasks made 10,000 echo tasks take
// twice as long as 32 did. A task that waits for a slot longer than
// HoldLimit goes back to the end of its queue for other workers, so a
// larger window costs long tasks some re-publishing, never a lost or
// doubled task.
func WorkerPrefetch(concurrency int) int {
	return max(4*concurrency, 32)
}

func (c *Config) setDefaults() {
	if c.MaxDeliveries == 0 {
		c.MaxDeliveries = 5
	}
	if c.Prefetch == 0 {
		c.Prefetch = 1
	}
	if c.EventPrefetch == 0 {
		c.EventPrefetch = 1000
	}
	if c.TaskPack == 0 {
		c.TaskPack = 16
	}
	if c.PublishChannels == 0 {
		// A worker publishes a claim and a result per running task.
		c.PublishChannels = max(8, c.Prefetch)
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = 5 * time.Second
	}
	if c.ReconnectMax == 0 {
		c.ReconnectMax = time.Second
	}
	if c.PublishTimeout == 0 {
		c.PublishTimeout = 2 * time.Minute
	}
	if c.HoldLimit == 0 {
		c.HoldLimit = 2 * time.Second
	}
	if c.EventQueueTTL == 0 {
		c.EventQueueTTL = time.Hour
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate reports every problem of the configuration at once. Its messages
// never contain the URL's password.
func (c *Config) Validate() error {
	var errs []error
	if c.URL == "" {
		errs = append(errs, errors.New("amqpbus: no broker URL"))
	} else if err := CheckURL(c.URL); err != nil {
		errs = append(errs, err)
	}
	if c.MaxDeliveries < 0 {
		errs = append(errs, fmt.Errorf("amqpbus: MaxDeliveries is %d", c.MaxDeliveries))
	}
	if c.Prefetch < 0 || c.EventPrefetch < 0 || c.PublishChannels < 0 || c.TaskPack < 0 {
		errs = append(errs, errors.New("amqpbus: negative Prefetch, EventPrefetch, PublishChannels or TaskPack"))
	}
	if c.DialTimeout < 0 || c.ConnectWait < 0 || c.ReconnectMax < 0 || c.PublishTimeout < 0 || c.HoldLimit < 0 || c.EventQueueTTL < 0 {
		errs = append(errs, errors.New("amqpbus: negative duration in Config"))
	}
	return errors.Join(errs...)
}

// CheckURL reports whether rawURL is a broker URL omp can use: amqp:// or
// amqps:// with a host and, if it names one, a port from 1 to 65535. The
// error quotes the URL redacted by redact.URL, whatever its form.
func CheckURL(rawURL string) error {
	red := redact.URL(rawURL)
	scheme, _, hasScheme := strings.Cut(rawURL, "://")
	if !hasScheme || !schemeName.MatchString(scheme) {
		return fmt.Errorf("invalid broker URL %q: missing amqp:// or amqps://", red)
	}
	if s := strings.ToLower(scheme); s != "amqp" && s != "amqps" {
		return fmt.Errorf("invalid broker URL %q: want amqp:// or amqps://", red)
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		// url's errors quote the part they reject, which may be a
		// piece of the password.
		return fmt.Errorf("invalid broker URL %q: cannot parse it", red)
	}
	if u.Host == "" {
		return fmt.Errorf("invalid broker URL %q: no host", red)
	}
	if strings.Contains(rawURL[len(scheme)+3:], "@") && u.User == nil {
		// amqp://u:12/x@h reads as host u, port 12: the password
		// would become the address.
		return fmt.Errorf("invalid broker URL %q: \"@\" after the host (write / in a password as %%2F)", red)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("invalid broker URL %q: port %s is out of range (1 to 65535)", red, p)
		}
	}
	return nil
}

// schemeName matches a URL scheme (RFC 3986, 3.1).
var schemeName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*$`)

// HostPort returns the host:port a broker URL names, with the scheme's
// default port when the URL names none.
func HostPort(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "<unparsable broker URL>"
	}
	if u.Port() != "" {
		return u.Host
	}
	port := "5672"
	if u.Scheme == "amqps" {
		port = "5671"
	}
	host := u.Hostname()
	if host == "" {
		host = "localhost"
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return host + ":" + port
}
