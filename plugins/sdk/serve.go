package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	goruntime "runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/ompdev/omp/plugins/internal/wire"
)

// Serve serves k as a plugin process and returns when the host that started
// the process lets it go. It is the whole of a kind's main function:
//
//	func main() { sdk.Serve(myKind{}) }
//
// Run directly instead of by omp, the executable says so and exits with
// status 1.
func Serve(k Kind) {
	if os.Getenv(wire.Handshake.MagicCookieKey) != wire.Handshake.MagicCookieValue {
		// go-plugin's own message for this speaks of "the program that
		// consumes these plugins".
		fmt.Fprintf(os.Stderr, "%s: this is a task kind plugin: omp starts it when a pipeline uses kind %s; it does not run on its own\n",
			filepath.Base(os.Args[0]), k.Describe().Name)
		os.Exit(1)
	}
	srv := &server{kind: k}
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: wire.Handshake,
		Plugins:         plugin.PluginSet{wire.PluginName: &grpcPlugin{srv: srv}},
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			return plugin.DefaultGRPCServer(append(opts,
				grpc.MaxRecvMsgSize(wire.MaxMessage),
				grpc.MaxSendMsgSize(wire.MaxMessage),
				// For a host older than Tasks, every task is one
				// RPC: without stream workers gRPC starts a goroutine
				// per RPC, whose stack then grows while decoding the
				// task (about a sixth of an echo plugin's CPU). When
				// all workers are busy, gRPC still starts a
				// goroutine, so a slow task never holds up another.
				grpc.NumStreamWorkers(streamWorkers())))
		},
		// go-plugin's own chatter would end up in the task's stderr tail
		// on the host side: keep only what may explain a failure.
		Logger: hclog.New(&hclog.LoggerOptions{
			Name:       "omp-kind",
			Level:      hclog.Warn,
			Output:     os.Stderr,
			JSONFormat: true,
		}),
	})
	// The host stopped the server, which cancelled every running task's
	// ctx. Give the kinds a moment to clean up (the script kind kills its
	// process group) before the process exits, so nothing they started
	// outlives omp; the host force-kills a plugin after 2 s (host.killGrace).
	srv.drain(1500 * time.Millisecond)
}

// streamWorkers is how many goroutines serve RPCs: as many as the embedded
// runner's default concurrency (four per CPU), so a plugin kept busy by it
// seldom starts one per RPC.
func streamWorkers() uint32 { return uint32(4 * goruntime.NumCPU()) }

// grpcPlugin is the server half of go-plugin's plugin; the host has the
// client half.
type grpcPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	srv *server
}

func (p *grpcPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	wire.RegisterKindServer(s, p.srv)
	return nil
}

func (p *grpcPlugin) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, errors.New("sdk: the SDK serves kinds; use package host to call one")
}

type server struct {
	wire.UnimplementedKindServer
	kind    Kind
	running sync.WaitGroup // Run calls in progress
}

// drain waits up to d for the running Run calls to return.
func (s *server) drain(d time.Duration) {
	done := make(chan struct{})
	go func() { s.running.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
	}
}

var _ wire.KindServer = (*server)(nil)

func (s *server) Describe(context.Context, *wire.DescribeRequest) (*wire.KindSpec, error) {
	return specToWire(s.kind.Describe()), nil
}

func (s *server) Run(req *wire.Task, stream grpc.ServerStreamingServer[wire.Event]) error {
	s.running.Add(1)
	defer s.running.Done()
	// The stream's context is cancelled when the host cancels the call, so
	// a timeout or Ctrl-C in omp reaches the kind.
	em := &emitter{send: stream.Send}
	return em.emit(s.outcome(stream.Context(), req, em))
}

// Tasks serves the tasks the host sends on one stream, each in a goroutine
// of its own, until the host ends the stream or goes away; then it cancels
// the tasks still running and waits for them.
//
// A goroutine that finished its task waits for the next one rather than
// exit, up to idleRunners of them: a fresh goroutine per task grew its
// stack on the way to the kind and back, which was 6% of an echo
// plugin's CPU. A task never waits for one: when none is idle, it gets a
// new goroutine.
func (s *server) Tasks(stream grpc.BidiStreamingServer[wire.TaskFrame, wire.EventFrame]) error {
	var (
		sendMu  sync.Mutex // gRPC streams are not safe for concurrent sends
		mu      sync.Mutex
		cancels = map[uint64]context.CancelFunc{}
		runners sync.WaitGroup
		idle    = make(chan streamTask) // unbuffered: a send finds an idle runner or none
		idleN   atomic.Int32
		ended   = make(chan struct{})
	)
	defer func() {
		close(ended)
		mu.Lock()
		for _, cancel := range cancels {
			cancel()
		}
		mu.Unlock()
		runners.Wait()
	}()
	run := func(t streamTask) {
		defer s.running.Done()
		em := &emitter{send: func(ev *wire.Event) error {
			sendMu.Lock()
			defer sendMu.Unlock()
			return stream.Send(&wire.EventFrame{Id: t.id, Event: ev})
		}}
		_ = em.emit(s.outcome(t.ctx, t.req, em))
		mu.Lock()
		delete(cancels, t.id)
		mu.Unlock()
		t.cancel()
	}
	for {
		f, err := stream.Recv()
		if err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
		if f.Task == nil {
			mu.Lock()
			if cancel := cancels[f.Id]; cancel != nil {
				cancel()
			}
			mu.Unlock()
			continue
		}
		ctx, cancel := context.WithCancel(stream.Context())
		mu.Lock()
		cancels[f.Id] = cancel
		mu.Unlock()
		s.running.Add(1)
		t := streamTask{id: f.Id, req: f.Task, ctx: ctx, cancel: cancel}
		select {
		case idle <- t:
			continue
		default:
		}
		runners.Add(1)
		go func() {
			defer runners.Done()
			for {
				run(t)
				if idleN.Add(1) > idleRunners {
					idleN.Add(-1)
					return
				}
				select {
				case t = <-idle:
					idleN.Add(-1)
				case <-ended:
					return
				}
			}
		}()
	}
}

// streamTask is a task of the Tasks stream, with the context its cancel
// frame cancels.
type streamTask struct {
	id     uint64
	req    *wire.Task
	ctx    context.Context
	cancel context.CancelFunc
}

// idleRunners bounds the goroutines that wait for a stream's next task:
// as many as the embedded runner runs at once.
var idleRunners = int32(4 * goruntime.NumCPU())

// outcome runs one task and returns its last event, a result or an error.
func (s *server) outcome(ctx context.Context, req *wire.Task, em *emitter) *wire.Event {
	res, err := s.call(ctx, taskFromWire(req), em)
	if err == nil {
		var data []byte
		data, err = json.Marshal(res)
		if err != nil {
			err = Permanent(fmt.Errorf("result is not JSON: %w", err))
		} else {
			return &wire.Event{Event: &wire.Event_Result{Result: &wire.Result{Json: data}}}
		}
	}
	return &wire.Event{Event: &wire.Event_Error{Error: &wire.Error{
		Message:   err.Error(),
		Permanent: IsPermanent(err),
	}}}
}

// call runs the kind, turning a panic into the task's error: one task's bug
// must not take down the other tasks running in the same process.
func (s *server) call(ctx context.Context, t Task, e Emitter) (res any, err error) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(os.Stderr, "panic: %v\n\n%s", r, debug.Stack())
			res, err = nil, fmt.Errorf("panic: %v", r)
		}
	}()
	res, err = s.kind.Run(ctx, t, e)
	if raw, ok := res.(json.RawMessage); ok && len(raw) == 0 {
		res = nil
	}
	return res, err
}

// emitter streams a running task's reports to the host. gRPC streams are not
// safe for concurrent sends; the mutex makes the Emitter so.
type emitter struct {
	mu     sync.Mutex
	send   func(*wire.Event) error
	failed bool
}

func (e *emitter) emit(ev *wire.Event) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.failed {
		return errors.New("stream closed")
	}
	if err := e.send(ev); err != nil {
		// The host went away or cancelled: drop further reports, the
		// kind will see its context done.
		e.failed = true
		return err
	}
	return nil
}

func (e *emitter) Log(line string) {
	_ = e.emit(&wire.Event{Event: &wire.Event_Log{Log: &wire.Log{Line: line}}})
}

func (e *emitter) Metric(name string, value float64, step int) {
	_ = e.emit(&wire.Event{Event: &wire.Event_Metric{Metric: &wire.Metric{Name: name, Value: value, Step: int64(step)}}})
}

func (e *emitter) Progress(done, total int) {
	_ = e.emit(&wire.Event{Event: &wire.Event_Progress{Progress: &wire.Progress{Done: int64(done), Total: int64(total)}}})
}

func specToWire(k KindSpec) *wire.KindSpec {
	w := &wire.KindSpec{Name: k.Name, Aliases: k.Aliases, Description: k.Description, Version: k.Version}
	for _, a := range k.Actions {
		var reads []*wire.Read
		for _, r := range a.Reads {
			reads = append(reads, &wire.Read{Object: r.Object, Arg: int32(r.Arg), Kwarg: r.Kwarg, Cut: r.Cut})
		}
		w.Actions = append(w.Actions, &wire.ActionSpec{
			Reads:     reads,
			NoCache:   a.NoCache,
			Name:      a.Name,
			MinArgs:   int32(a.MinArgs),
			MaxArgs:   int32(a.MaxArgs),
			Args:      a.Args,
			Kwargs:    a.Kwargs,
			AnyKwargs: a.AnyKwargs,
			Doc:       a.Doc,
		})
	}
	return w
}

func taskFromWire(w *wire.Task) Task {
	t := Task{
		RunID:   w.RunId,
		TaskID:  w.TaskId,
		Attempt: int(w.Attempt),
		Kind:    w.Kind,
		Name:    w.Name,
		Action:  w.Action,
		Label:   w.Label,
		Store:   w.Store,
	}
	for _, a := range w.Args {
		t.Args = append(t.Args, json.RawMessage(a))
	}
	if len(w.Kwargs) > 0 {
		t.Kwargs = make(map[string]json.RawMessage, len(w.Kwargs))
		for k, v := range w.Kwargs {
			t.Kwargs[k] = json.RawMessage(v)
		}
	}
	if len(w.Input) > 0 {
		t.Input = json.RawMessage(w.Input)
	}
	if w.DeadlineUnixNano != 0 {
		t.Deadline = time.Unix(0, w.DeadlineUnixNano)
	}
	return t
}
