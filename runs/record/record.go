// Package record writes a run into a runs.Store while it runs: a Recorder
// is the run's runtime.Listener, whose Notify only appends to a buffer, and
// one goroutine of its own writes the buffer as a runs.Batch every
// FlushInterval (sooner when it grows past MaxBatch), renews the run's
// heartbeat and watches for a cancel request.
//
// Its guarantee: once Close returns nil, every update Notify received is in
// the store, in order, and so is the run's end. The scheduler never waits
// for the database: a slow store makes the buffer grow, not the run slow.
package record

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/user"
	"sync"
	"time"

	"github.com/ompdev/omp/compiler"
	"github.com/ompdev/omp/runs"
	"github.com/ompdev/omp/runtime"
	"github.com/ompdev/omp/runtime/cachekey"
)

// Blobs keeps the results too large for the database (over
// runs.MaxInlineResult): omp's store, where they are written under
// results/RUNID/NODE.json.
type Blobs interface {
	Put(ctx context.Context, name string, data []byte) error
}

// Config configures a Recorder. Store and Run.ID are required.
type Config struct {
	Store runs.Store
	// Run is the run's row; Start sets its Status, Started and Heartbeat.
	Run runs.Run
	// Graph, if set, gives the run's task counts from its start, and
	// its JSON form is recorded as Run.Graph when that is nil (the form
	// of omp graph --format json, without indentation). A node
	// is recorded when something happens to it: writing every node
	// PENDING first, then again when it ends, doubled the cost of a large
	// run's recording. Tasks fills in the rest from the run's graph.
	Graph *compiler.Graph
	// Blobs keeps results over runs.MaxInlineResult; without it such a
	// result is recorded as null with an error saying why.
	Blobs Blobs
	// Cancel is called, once, when someone asks for the run to be
	// cancelled (omp cancel): it should cancel the run as Ctrl-C does.
	Cancel func()
	// Logger reports the first failed write, with the run and the error as
	// attributes; the run goes on, and Close returns that error. Default:
	// nothing is logged.
	Logger *slog.Logger

	// FlushInterval is how often the buffer is written. Default 200ms.
	FlushInterval time.Duration
	// BeatInterval is how often the heartbeat is renewed and a cancel
	// request looked for. Default 1s, so that omp cancel takes effect
	// within a second.
	BeatInterval time.Duration
	// MaxBatch is how many buffered items make the writer flush before
	// FlushInterval. Default 4096.
	MaxBatch int
}

// Recorder records one run. Notify is called by the run (one goroutine);
// Close by whoever started it, once the run ended.
type Recorder struct {
	cfg Config
	ctx context.Context // outlives the run's: a cancelled run is recorded too

	mu       sync.Mutex
	buf      pending
	dropping bool          // the run's row could not be created
	full     chan struct{} // a flush is due before the tick

	stop      chan struct{}
	stopped   chan struct{}
	created   chan struct{} // closed once the run's row is written, or failed to be
	createErr error         // set before created is closed

	errMu    sync.Mutex
	firstErr error
}

// pending is what was heard and not yet written. A task's row is replaced
// by each later update of it, so a batch writes each task once.
type pending struct {
	tasks []runs.Task
	// keys are the cache keys of tasks, encoded by the writer: a key is
	// never changed once computed, and encoding it is not for the run's
	// goroutine.
	keys        []*cachekey.Key
	index       map[string]int // node → position in tasks
	transitions []runs.Transition
	logs        []runs.LogLine
	metrics     []runs.Metric
	counts      *runs.Counts
}

func (p *pending) size() int {
	return len(p.tasks) + len(p.transitions) + len(p.logs) + len(p.metrics)
}

// next is an empty buffer for what comes after p, sized like p: a large
// run's buffer that grew from nothing in every batch spent a tenth of its
// recording copying tasks to larger arrays and rehashing their index.
func (p *pending) next() pending {
	n := pending{
		tasks:       make([]runs.Task, 0, len(p.tasks)),
		keys:        make([]*cachekey.Key, 0, len(p.keys)),
		transitions: make([]runs.Transition, 0, len(p.transitions)),
	}
	if len(p.tasks) > 0 {
		n.index = make(map[string]int, len(p.tasks))
	}
	return n
}

func (p *pending) setTask(t runs.Task, key *cachekey.Key) {
	if i, ok := p.index[t.Node]; ok {
		p.tasks[i], p.keys[i] = t, key
		return
	}
	if p.index == nil {
		p.index = map[string]int{}
	}
	p.index[t.Node] = len(p.tasks)
	p.tasks = append(p.tasks, t)
	p.keys = append(p.keys, key)
}

// Start starts the recorder, which creates the run's row first thing, off
// the caller's path: for a large graph, encoding and writing it takes a
// noticeable share of a short run. Should that fail, the run goes on
// unrecorded, Logger says why and Close returns the error. (That the
// database can be opened and reached is for the caller to check before the
// run starts, with runs.Open.)
func Start(ctx context.Context, cfg Config) (*Recorder, error) {
	if cfg.Store == nil || cfg.Run.ID == "" {
		return nil, errors.New("record: Config.Store and Config.Run.ID are required")
	}
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = 200 * time.Millisecond
	}
	if cfg.BeatInterval <= 0 {
		cfg.BeatInterval = time.Second
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 4096
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Cancel == nil {
		cfg.Cancel = func() {}
	}
	now := time.Now()
	cfg.Run.Status = runs.Running
	if cfg.Run.Started.IsZero() {
		cfg.Run.Started = now
	}
	cfg.Run.Heartbeat = now
	if cfg.Graph != nil {
		cfg.Run.Counts = runs.Counts{Total: len(cfg.Graph.Nodes), Pending: len(cfg.Graph.Nodes)}
	}
	r := &Recorder{
		cfg:     cfg,
		ctx:     context.WithoutCancel(ctx),
		full:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		stopped: make(chan struct{}),
		created: make(chan struct{}),
	}
	go r.loop()
	return r, nil
}

// Created waits until the run's row is written, and returns the error if
// it could not be. A caller that hands the run's id to someone who will
// look it up (omp serve answering a submit, a schedule's tick whose
// overlap looks for the run) waits for it first; omp run need not.
func (r *Recorder) Created(ctx context.Context) error {
	select {
	case <-r.created:
		return r.createErr
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Tasks returns every task of run r: the recorded ones, and a PENDING
// row for each node of its graph that nothing happened to yet, in graph
// order.
func Tasks(r *runs.Run, recorded []runs.Task) ([]runs.Task, error) {
	var g struct {
		Nodes []*compiler.Node `json:"nodes"`
	}
	if len(r.Graph) > 0 {
		if err := json.Unmarshal(r.Graph, &g); err != nil {
			return nil, fmt.Errorf("run %s: its recorded graph is not a graph: %w", r.ID, err)
		}
	}
	byNode := make(map[string]int, len(recorded))
	for i, t := range recorded {
		byNode[t.Node] = i
	}
	out := make([]runs.Task, 0, max(len(g.Nodes), len(recorded)))
	for _, n := range g.Nodes {
		if i, ok := byNode[n.ID]; ok {
			out = append(out, recorded[i])
			delete(byNode, n.ID)
		} else {
			out = append(out, nodeTask(r.ID, n))
		}
	}
	for _, t := range recorded {
		if _, ok := byNode[t.Node]; ok {
			out = append(out, t)
		}
	}
	return out, nil
}

// nodeTask is a node's row before anything happened to it, as the runtime's
// first report of it would say.
func nodeTask(runID string, n *compiler.Node) runs.Task {
	t := runs.Task{
		RunID: runID, Node: n.ID, Kind: n.Kind, Name: n.Name, Action: n.Action, Label: n.Label,
		Pos: n.Pos.String(), State: string(runtime.Pending), Result: json.RawMessage("null"),
	}
	switch n.Op {
	case compiler.OpReduce:
		t.Kind, t.Action = "reduce", n.Reducer
	case compiler.OpTask:
		if t.Label == "" {
			t.Label = compiler.DefaultLabel
		}
	}
	return t
}

// Notify takes in one update of the run; it copies what it keeps and never
// waits for the database.
func (r *Recorder) Notify(u runtime.Update) {
	id := r.cfg.Run.ID
	node := ""
	if u.Task != nil {
		node = u.Task.ID
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.dropping {
		return
	}
	b := &r.buf
	switch u.Type {
	case runtime.UpdateState:
		tr := u.Task
		res := u.Result
		if len(res) == 0 {
			res = json.RawMessage("null")
		}
		t := runs.Task{
			RunID: id, Node: tr.ID, Kind: tr.Kind, Name: tr.Name, Action: tr.Action, Label: tr.Label,
			Pos: tr.Pos, Worker: tr.Worker, State: string(u.State), Attempts: tr.Attempts,
			Started: tr.Started, Finished: tr.Finished, Error: tr.Error, Result: res,
			ResultDigest: tr.ResultDigest, NotCached: tr.NotCached,
		}
		if tr.CacheKey != nil {
			t.CacheKey = tr.CacheKey.Digest
		}
		b.setTask(t, tr.CacheKey)
		b.transitions = append(b.transitions, runs.Transition{
			RunID: id, Node: tr.ID, Time: u.Time, State: string(u.State),
			Attempt: tr.Attempts, Worker: tr.Worker, Message: u.Message,
		})
		c := runs.Counts{Total: u.Counts.Total, Pending: u.Counts.Pending, Running: u.Counts.Running,
			Succeeded: u.Counts.Succeeded, Failed: u.Counts.Failed, Cancelled: u.Counts.Cancelled}
		b.counts = &c
	case runtime.UpdateLog:
		b.logs = append(b.logs, runs.LogLine{RunID: id, Node: node, Time: u.Time, Line: u.Line})
	case runtime.UpdateMetric:
		b.metrics = append(b.metrics, runs.Metric{
			RunID: id, Node: node, Name: u.Metric.Name, Value: u.Metric.Value, Step: u.Metric.Step, Time: u.Time,
		})
	case runtime.UpdateWarning:
		// A warning belongs to the run, not to a task: a log line of no node.
		b.logs = append(b.logs, runs.LogLine{RunID: id, Time: u.Time, Line: "warning: " + u.Message})
	default:
		return // progress is for the live view only
	}
	if b.size() >= r.cfg.MaxBatch {
		select {
		case r.full <- struct{}{}:
		default:
		}
	}
}

// create records the run's row.
func (r *Recorder) create() error {
	if r.cfg.Run.Graph == nil && r.cfg.Graph != nil {
		g, err := encodeGraph(r.cfg.Graph)
		if err != nil {
			return fmt.Errorf("encoding the graph: %w", err)
		}
		r.cfg.Run.Graph = g
	}
	err := r.cfg.Store.Create(r.ctx, &r.cfg.Run)
	// The row holds the graph now; its JSON, as large as the graph itself,
	// is not needed again for the rest of the run.
	r.cfg.Run.Graph = nil
	return err
}

// graphTail is how the JSON of a graph without nodes and outputs ends:
// they are its last fields.
const graphTail = `"nodes":null,"outputs":null}`

// encodeGraph returns g's JSON form as json.Encoder without HTML escaping
// writes it, less the newline, encoding one node at a time: encoding/json
// keeps its buffers in a pool, and the buffer that held a whole large
// graph would stay there, reused by every small encoding that follows,
// for the rest of the run. The nodes' JSON goes in blocks, copied once
// into a slice of its size: a buffer that grows by doubling would hold up
// to twice the graph, and a large graph's is tens of megabytes.
func encodeGraph(g *compiler.Graph) (json.RawMessage, error) {
	var buf bytes.Buffer // one value at a time
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	var out blocks
	encode := func(v any) error {
		buf.Reset()
		if err := enc.Encode(v); err != nil {
			return err
		}
		out.write(buf.Bytes()[:buf.Len()-1]) // less Encode's newline
		return nil
	}
	head := *g
	head.Nodes, head.Outputs = nil, nil
	buf.Reset()
	if err := enc.Encode(&head); err != nil {
		return nil, err
	}
	h := buf.Bytes()[:buf.Len()-1] // less the newline
	if !bytes.HasSuffix(h, []byte(graphTail)) {
		return nil, errors.New("the nodes and outputs are not the graph's last fields")
	}
	out.write(h[:len(h)-len(graphTail)])
	out.write([]byte(`"nodes":`))
	if g.Nodes == nil {
		out.write([]byte("null"))
	} else {
		out.write([]byte("["))
		for i, n := range g.Nodes {
			if i > 0 {
				out.write([]byte(","))
			}
			if err := encode(n); err != nil {
				return nil, err
			}
		}
		out.write([]byte("]"))
	}
	out.write([]byte(`,"outputs":`))
	if err := encode(g.Outputs); err != nil {
		return nil, err
	}
	out.write([]byte("}"))
	return out.bytes(), nil
}

// blockSize is the size of the blocks that encodeGraph writes in.
const blockSize = 1 << 20

// blocks is text written in blocks of blockSize.
type blocks struct {
	full [][]byte
	last []byte
	n    int
}

func (b *blocks) write(p []byte) {
	b.n += len(p)
	for len(p) > 0 {
		if len(b.last) == cap(b.last) {
			if b.last != nil {
				b.full = append(b.full, b.last)
			}
			b.last = make([]byte, 0, blockSize)
		}
		k := min(len(p), cap(b.last)-len(b.last))
		b.last = append(b.last, p[:k]...)
		p = p[k:]
	}
}

// bytes returns the text in one slice.
func (b *blocks) bytes() []byte {
	out := make([]byte, 0, b.n)
	for _, f := range b.full {
		out = append(out, f...)
	}
	return append(out, b.last...)
}

func (r *Recorder) loop() {
	defer close(r.stopped)
	r.createErr = r.create()
	close(r.created)
	if err := r.createErr; err != nil {
		r.fail(fmt.Errorf("create: %w", err))
		// Nothing can be written: drop what the run tells.
		r.mu.Lock()
		r.dropping = true
		r.buf = pending{}
		r.mu.Unlock()
		<-r.stop
		return
	}
	flush := time.NewTicker(r.cfg.FlushInterval)
	defer flush.Stop()
	beat := time.NewTicker(r.cfg.BeatInterval)
	defer beat.Stop()
	cancelled := false
	for {
		select {
		case <-r.stop:
			r.flush()
			return
		case <-flush.C:
			r.flush()
		case <-r.full:
			r.flush()
		case now := <-beat.C:
			asked, err := r.cfg.Store.Beat(r.ctx, r.cfg.Run.ID, now)
			if err != nil {
				r.fail(fmt.Errorf("heartbeat: %w", err))
				continue
			}
			if asked && !cancelled {
				cancelled = true
				r.cfg.Cancel()
			}
		}
	}
}

// flush writes what is buffered, in one transaction.
func (r *Recorder) flush() {
	r.mu.Lock()
	b := r.buf
	r.buf = b.next()
	r.mu.Unlock()
	if b.size() == 0 && b.counts == nil {
		return
	}
	for i := range b.tasks {
		r.keepLarge(&b.tasks[i])
		if k := b.keys[i]; k != nil {
			b.tasks[i].CacheParts = encodeParts(k.Parts)
		}
	}
	err := r.cfg.Store.Write(r.ctx, runs.Batch{
		RunID: r.cfg.Run.ID, Tasks: b.tasks, Transitions: b.transitions,
		Logs: b.logs, Metrics: b.metrics, Counts: b.counts,
		PartsChecked: true, // encoded just above
	})
	if err != nil {
		r.fail(fmt.Errorf("write %d records: %w", b.size(), err))
	}
}

// encodeParts is json.Marshal(parts), byte for byte, without reflection:
// a large run's recording spent a tenth of its time encoding them. A
// string that json.Marshal would escape is left to it.
func encodeParts(parts []cachekey.Part) json.RawMessage {
	if parts == nil {
		return json.RawMessage("null")
	}
	n := 2
	for _, p := range parts {
		n += 40 + len(p.Name) + len(p.Value) + len(p.Digest)
		for _, r := range p.Refs {
			n += 3 + len(r)
		}
	}
	b := make([]byte, 0, n)
	b = append(b, '[')
	for i, p := range parts {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":`...)
		b = appendString(b, p.Name)
		if p.Value != "" {
			b = append(b, `,"value":`...)
			b = appendString(b, p.Value)
		}
		b = append(b, `,"digest":`...)
		b = appendString(b, p.Digest)
		if len(p.Refs) > 0 {
			b = append(b, `,"refs":[`...)
			for j, r := range p.Refs {
				if j > 0 {
					b = append(b, ',')
				}
				b = appendString(b, r)
			}
			b = append(b, ']')
		}
		b = append(b, '}')
	}
	return append(b, ']')
}

// appendString appends s as json.Marshal writes it.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// keepLarge moves a result too large for the database into Blobs.
func (r *Recorder) keepLarge(t *runs.Task) {
	if len(t.Result) <= runs.MaxInlineResult {
		return
	}
	data := t.Result
	t.Result = json.RawMessage("null")
	if r.cfg.Blobs == nil {
		t.Error = joinErr(t.Error, fmt.Sprintf("result of %d bytes not recorded: no store to keep it in", len(data)))
		return
	}
	key := "results/" + t.RunID + "/" + t.Node + ".json"
	if err := r.cfg.Blobs.Put(r.ctx, key, data); err != nil {
		t.Error = joinErr(t.Error, fmt.Sprintf("result of %d bytes not recorded: %v", len(data), err))
		return
	}
	t.ResultRef = key
}

func joinErr(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

func (r *Recorder) fail(err error) {
	r.errMu.Lock()
	first := r.firstErr == nil
	if first {
		r.firstErr = err
	}
	r.errMu.Unlock()
	if first {
		r.cfg.Logger.Error("cannot record the run", "run", r.cfg.Run.ID, "error", err)
	}
}

// Close writes what is left and the run's end, and returns the first error
// of any write.
func (r *Recorder) Close(status runs.Status, exitCode int) error {
	close(r.stop)
	<-r.stopped
	r.mu.Lock()
	created := !r.dropping
	r.mu.Unlock()
	if created {
		if err := r.cfg.Store.Finish(r.ctx, r.cfg.Run.ID, status, exitCode, time.Now()); err != nil {
			r.fail(fmt.Errorf("finish: %w", err))
		}
	}
	r.errMu.Lock()
	defer r.errMu.Unlock()
	return r.firstErr
}

// Result reads a recorded result: the inline JSON, or the blob its
// ResultRef names.
func Result(ctx context.Context, t runs.Task, blobs interface {
	Get(ctx context.Context, name string) ([]byte, error)
}) (json.RawMessage, error) {
	if t.ResultRef == "" {
		if len(bytes.TrimSpace(t.Result)) == 0 {
			return json.RawMessage("null"), nil
		}
		return t.Result, nil
	}
	if blobs == nil {
		return nil, fmt.Errorf("result of %s is kept in the store as %s, and there is no store", t.Node, t.ResultRef)
	}
	data, err := blobs.Get(ctx, t.ResultRef)
	if err != nil {
		return nil, fmt.Errorf("result of %s: %w", t.Node, err)
	}
	return data, nil
}

// UserName is who starts a run, for its record.
func UserName() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return os.Getenv("USER")
}
