package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
)

// Version is the version of the message envelopes ("v" in every message). A
// receiver rejects a message of another version instead of guessing.
const Version = 1

// TaskMessage asks a worker to run one attempt of one task. The runner
// publishes it on TaskTopic(Label).
type TaskMessage struct {
	V       int    `json:"v"`
	RunID   string `json:"run_id"`
	TaskID  string `json:"task_id"`
	Attempt int    `json:"attempt"` // 1-based; a retry is a new attempt
	// Dispatch counts the publications of the task since its last failed
	// attempt (1-based): a re-publication after a lost message has the same
	// attempt and a higher dispatch, one after a lapsed lease the next
	// attempt and a higher dispatch.
	Dispatch int    `json:"dispatch"`
	Kind     string `json:"kind"`
	Name     string `json:"name"`
	Action   string `json:"action"`
	// Args and Kwargs are the task's arguments with every reference to
	// another node replaced by that node's result.
	Args   []json.RawMessage          `json:"args,omitempty"`
	Kwargs map[string]json.RawMessage `json:"kwargs,omitempty"`
	// Input is the upstream result, or empty for none.
	Input   json.RawMessage `json:"input,omitempty"`
	Label   string          `json:"label"`
	Options Options         `json:"options,omitzero"`
	// Deadline, when set, is a time after which the attempt must not run
	// or go on running; the worker also applies Options.Timeout.
	Deadline time.Time `json:"deadline,omitzero"`
	// Store is the runner's store; a worker with a store of its own uses
	// that instead.
	Store string `json:"store,omitempty"`
	// ReplyTo is the topic for the task's events: EventTopic(RunID).
	ReplyTo string `json:"reply_to"`
	// LeaseInterval is how often the worker must renew its claim with a
	// LEASE event while the attempt runs.
	LeaseInterval Duration `json:"lease_interval,omitzero"`
	// ClaimWithin is how long a worker may run the task before it must
	// claim it (STARTED) and ack its message. A task done sooner sends only
	// its outcome, then acks: a quick task costs one event, not two. Zero
	// means claim before running.
	ClaimWithin Duration `json:"claim_within,omitzero"`
	// Then are the tasks that follow this one in a chain, each the only
	// dependent of the one before and taking its result as Input: once
	// this task succeeded, the worker runs Then[0] with the result as its
	// Input (and Then[1:] as its own Then), instead of the runner hearing
	// of the result and publishing the next task, which costs a broker
	// round trip per link. A worker that cannot go on (it stops, or the
	// claim cannot be sent) publishes the next one on its label's topic.
	Then []TaskMessage `json:"then,omitempty"`
}

// Options are a task's execution options on the wire.
type Options struct {
	Retries int      `json:"retries,omitempty"`
	Timeout Duration `json:"timeout,omitzero"`
	Backoff Duration `json:"backoff,omitzero"`
}

// Duration is a time.Duration written as a Go duration string ("1m30s") in
// JSON, so messages stay readable in a broker's management UI.
type Duration time.Duration

func (d Duration) MarshalJSON() ([]byte, error) {
	return strconv.AppendQuote(nil, time.Duration(d).String()), nil
}

func (d *Duration) UnmarshalJSON(b []byte) error {
	// A duration string has no escapes: skip json.Unmarshal, which costs
	// more than the rest of a task message's decoding.
	s, ok := strings.CutPrefix(string(b), `"`)
	s, ok2 := strings.CutSuffix(s, `"`)
	if !ok || !ok2 || strings.ContainsRune(s, '\\') {
		if err := json.Unmarshal(b, &s); err != nil {
			return fmt.Errorf("duration: %w", err)
		}
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration: %w", err)
	}
	*d = Duration(v)
	return nil
}

// EventType says what an Event reports.
type EventType string

const (
	// EventStarted is a worker's claim of a task message; it is sent
	// before the message is acked.
	EventStarted EventType = "STARTED"
	// EventLease renews the claims of the attempts listed in Leases.
	EventLease EventType = "LEASE"
	// EventLog carries one log line of the task.
	EventLog EventType = "LOG"
	// EventMetric carries one metric of the task.
	EventMetric EventType = "METRIC"
	// EventProgress carries the task's progress.
	EventProgress EventType = "PROGRESS"
	// EventResult ends an attempt with a result.
	EventResult EventType = "RESULT"
	// EventFailure ends an attempt with an error.
	EventFailure EventType = "FAILURE"
	// EventRelease gives an attempt back without an outcome (its worker is
	// shutting down); the runner dispatches it again at once.
	EventRelease EventType = "RELEASE"
	// EventBatch carries several events in Events, so that a busy worker
	// sends one message where it has many events ready at once.
	EventBatch EventType = "BATCH"
)

// Event is what a worker reports about one attempt of one task, on
// EventTopic(RunID). Events of one attempt may arrive out of order and more
// than once; the runner copes with both.
type Event struct {
	V        int       `json:"v"`
	Type     EventType `json:"type"`
	RunID    string    `json:"run_id"`
	TaskID   string    `json:"task_id,omitempty"`
	Attempt  int       `json:"attempt,omitempty"`
	Dispatch int       `json:"dispatch,omitempty"`
	Worker   string    `json:"worker,omitempty"`
	// Delivery names the worker's delivery of the task message that the
	// event belongs to: a message the bus delivered twice has two.
	Delivery string    `json:"delivery,omitempty"`
	Time     time.Time `json:"time"`

	Line     string          `json:"line,omitempty"`     // LOG
	Metric   *Metric         `json:"metric,omitempty"`   // METRIC
	Progress *Progress       `json:"progress,omitempty"` // PROGRESS
	Result   json.RawMessage `json:"result,omitempty"`   // RESULT
	// Started is when the worker began the attempt, on RESULT, FAILURE and
	// RELEASE: events may overtake each other, and a result that arrives
	// before its STARTED still gives the task a start time.
	Started time.Time `json:"started,omitzero"`
	// Seq numbers the events of one delivery from 1 in the order
	// the worker sent them; LEASE and BATCH have none. Messages may
	// overtake each other and come twice: the runner puts each dispatch's
	// events back in order and drops repeats, so no log line comes out of
	// order or after its task ended.
	Seq int `json:"seq,omitempty"`
	// Error, Permanent, Infra and Cancelled describe a FAILURE: Permanent
	// means retrying cannot help, Infra that the worker's infrastructure
	// (not the task) failed, Cancelled that the run's cancellation ended
	// the attempt.
	Error     string `json:"error,omitempty"`
	Permanent bool   `json:"permanent,omitempty"`
	Infra     bool   `json:"infra,omitempty"`
	Cancelled bool   `json:"cancelled,omitempty"`
	// Leases are the attempts a LEASE renews (TaskID is then empty).
	Leases []Lease `json:"leases,omitempty"`
	// Events are the events of a BATCH, in the order they happened; they
	// do not repeat V.
	Events []*Event `json:"events,omitempty"`
}

// Metric is one value a task reports, such as a loss per training step.
type Metric struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Step  int     `json:"step"`
}

// Progress is how far a task got.
type Progress struct {
	Done  int `json:"done"`
	Total int `json:"total"`
}

// Lease names one attempt whose claim a LEASE event renews.
type Lease struct {
	TaskID  string `json:"task_id"`
	Attempt int    `json:"attempt"`
}

// Heartbeat is what a worker announces on WorkersTopic every
// HeartbeatInterval, and once more with Stopping set when it exits.
type Heartbeat struct {
	V           int      `json:"v"`
	Worker      string   `json:"worker"`
	Host        string   `json:"host"`
	PID         int      `json:"pid"`
	Labels      []string `json:"labels"`
	Concurrency int      `json:"concurrency"`
	// Running lists the attempts running now as "RUN-ID/TASK-ID".
	Running  []string  `json:"running"`
	Time     time.Time `json:"time"`
	Interval Duration  `json:"interval"`
	Stopping bool      `json:"stopping,omitempty"`
	// Chains says that the worker runs TaskMessage.Then: a runner chains
	// tasks of a label only while every worker serving it says so.
	Chains bool `json:"chains,omitempty"`
}

// Serves reports whether the worker takes tasks of label.
func (h *Heartbeat) Serves(label string) bool {
	for _, l := range h.Labels {
		if l == label || l == AnyLabel {
			return true
		}
	}
	return false
}

// ControlType says what a Control message asks.
type ControlType string

const (
	// ControlCancel cancels the run: workers cancel its running attempts
	// (which then fail with Cancelled set) and drop its queued tasks.
	ControlCancel ControlType = "CANCEL"
	// ControlDrain stops the run from starting tasks: workers drop its
	// queued tasks but let its running attempts finish (fail fast).
	ControlDrain ControlType = "DRAIN"
	// ControlPing asks every worker for a heartbeat now, so a runner that
	// just started knows who serves which label without waiting a
	// HeartbeatInterval.
	ControlPing ControlType = "PING"
	// ControlResync asks every worker to send again, for the run, the
	// claims of its running attempts and the outcomes it reported lately:
	// a runner that lost its connection to the broker may have lost some.
	ControlResync ControlType = "RESYNC"
)

// Control is a runner's order to every worker, on ControlTopic.
type Control struct {
	V     int         `json:"v"`
	Type  ControlType `json:"type"`
	RunID string      `json:"run_id"`
	Time  time.Time   `json:"time"`
}

// msgIDs makes message ids unique across processes without the cost of a
// random UUID per message: a random process prefix and a counter.
var (
	msgPrefix = strconv.FormatInt(time.Now().UnixNano(), 36) + "-" + strconv.Itoa(os.Getpid()) + "-"
	msgSeq    atomic.Uint64
)

func newMessageID() string {
	return msgPrefix + strconv.FormatUint(msgSeq.Add(1), 36)
}

// ErrVersion is returned (wrapped) when a message has an unknown version.
var ErrVersion = errors.New("unsupported message version")

func encode(v any) (*message.Message, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return message.NewMessage(newMessageID(), b), nil
}

func decode(what string, msg *message.Message, v any, version *int) error {
	if err := json.Unmarshal(msg.Payload, v); err != nil {
		return fmt.Errorf("decode %s message %s: %w", what, msg.UUID, err)
	}
	if *version != Version {
		return fmt.Errorf("decode %s message %s: %w %d (want %d)", what, msg.UUID, ErrVersion, *version, Version)
	}
	return nil
}

// EncodeTask makes a Watermill message of m, setting its version.
func EncodeTask(m *TaskMessage) (*message.Message, error) {
	m.V = Version
	return encode(m)
}

// DecodeTask reads a TaskMessage from msg.
func DecodeTask(msg *message.Message) (*TaskMessage, error) {
	var m TaskMessage
	return &m, decode("task", msg, &m, &m.V)
}

// EncodeEvent makes a Watermill message of e, setting its version.
func EncodeEvent(e *Event) (*message.Message, error) {
	e.V = Version
	return encode(e)
}

// DecodeEvent reads an Event from msg.
func DecodeEvent(msg *message.Message) (*Event, error) {
	var e Event
	return &e, decode("event", msg, &e, &e.V)
}

// EncodeHeartbeat makes a Watermill message of h, setting its version.
func EncodeHeartbeat(h *Heartbeat) (*message.Message, error) {
	h.V = Version
	return encode(h)
}

// DecodeHeartbeat reads a Heartbeat from msg.
func DecodeHeartbeat(msg *message.Message) (*Heartbeat, error) {
	var h Heartbeat
	return &h, decode("heartbeat", msg, &h, &h.V)
}

// EncodeControl makes a Watermill message of c, setting its version.
func EncodeControl(c *Control) (*message.Message, error) {
	c.V = Version
	return encode(c)
}

// DecodeControl reads a Control message from msg.
func DecodeControl(msg *message.Message) (*Control, error) {
	var c Control
	return &c, decode("control", msg, &c, &c.V)
}

func (d Duration) std() time.Duration { return time.Duration(d) }

// decodedKey keys, in a message's context, the value its payload encodes, so
// that a bus that stays in one process (the embedded bus, which preserves
// message contexts) spares the receiver decoding what the sender just
// encoded. The payload is there all the same: every other receiver decodes.
type decodedKey struct{}

// inProcess is a publisher whose subscribers are all in this process and read
// the value withDecoded attaches, never the payload: the embedded bus's.
type inProcess interface{ inProcess() }

// encodeFor makes the message of a value with enc, or, for a publisher in
// process, an empty message: encoding what nobody decodes was a seventh of
// an embedded run's CPU. Either way the caller attaches the value.
func encodeFor(pub message.Publisher, enc func() (*message.Message, error)) (*message.Message, error) {
	if _, ok := pub.(inProcess); ok {
		return message.NewMessage(newMessageID(), nil), nil
	}
	return enc()
}

// withDecoded attaches v to msg's context.
func withDecoded(msg *message.Message, v any) {
	msg.SetContext(context.WithValue(msg.Context(), decodedKey{}, v))
}

// taskOf returns the task message msg carries.
func taskOf(msg *message.Message) (*TaskMessage, error) {
	if m, ok := msg.Context().Value(decodedKey{}).(*TaskMessage); ok {
		c := *m // the worker sets fields of its own copy
		return &c, nil
	}
	return DecodeTask(msg)
}

// eventOf returns the event msg carries.
func eventOf(msg *message.Message) (*Event, error) {
	if e, ok := msg.Context().Value(decodedKey{}).(*Event); ok {
		return e, nil
	}
	return DecodeEvent(msg)
}
