package amqpbus_test

import (
	"context"
	goruntime "runtime"
	"slices"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/ompdev/omp/internal/amqptest"
	"github.com/ompdev/omp/plugins/echo"
	"github.com/ompdev/omp/runtime"
	"github.com/ompdev/omp/runtime/amqpbus"
	"github.com/ompdev/omp/runtime/runtimetest"
)

// The benchmarks here measure the runtime on RabbitMQ without the plugin
// host: a runner's bus, and a worker in this process on a bus of its own
// (its own connections, as another process would have) with the defaults of
// `omp worker` (concurrency the number of CPUs, amqpbus.WorkerPrefetch) and
// echo run in process (KindExecutor), so without the plugin RPC that a user's
// tasks cost. Their names say so: InProcess. What users run, the omp CLI
// with a worker process and the plugin host, bench/run.sh measures.

// benchEnv is a runner's bus and an in-process worker with omp worker's
// default configuration, both on the test broker.
func benchEnv(b *testing.B) runtime.Bus {
	url := amqptest.URL(b)
	prefix := amqptest.Prefix(b)
	cleanup(b, url, prefix, "default")
	cfg := runtime.WorkerConfig{Name: "bench", Concurrency: goruntime.NumCPU(),
		Executor: runtime.KindExecutor(echo.Kind{}), HeartbeatInterval: 5 * time.Second}
	cfg.Bus = newBus(b, url, prefix, func(c *amqpbus.Config) { c.Prefetch = amqpbus.WorkerPrefetch(cfg.Concurrency) })
	runtimetest.Serve(b, cfg)
	return newBus(b, url, prefix)
}

func benchRun(b *testing.B, bus runtime.Bus, g *runtimetest.Graph) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rep, err := runtime.Run(ctx, g.G, runtime.Config{Bus: bus})
	if err != nil {
		b.Fatal(err)
	}
	if rep.Status != runtime.Success {
		b.Fatalf("status %s", rep.Status)
	}
}

func fanOut(n int) *runtimetest.Graph {
	g := runtimetest.NewGraph()
	ids := make([]string, n)
	for i := range n {
		ids[i] = g.Echo("e", []any{int64(i)})
	}
	g.Out(g.Reduce("count", false, ids...))
	return g
}

// BenchmarkFanOut1000InProcess is 1,000 echo tasks in parallel, then reduce
// count: Celery's chord of 1,000 took 1.0-2.4 s on this machine and broker.
func BenchmarkFanOut1000InProcess(b *testing.B) {
	bus := benchEnv(b)
	g := fanOut(1000)
	for b.Loop() {
		benchRun(b, bus, g)
	}
	b.ReportMetric(float64(1000*b.N)/b.Elapsed().Seconds(), "tasks/s")
}

// BenchmarkParallel10000InProcess is 10,000 echo tasks in parallel, then
// reduce count: Celery's group of 10,000 took 13-18 s.
func BenchmarkParallel10000InProcess(b *testing.B) {
	bus := benchEnv(b)
	g := fanOut(10000)
	for b.Loop() {
		benchRun(b, bus, g)
	}
	b.ReportMetric(float64(10000*b.N)/b.Elapsed().Seconds(), "tasks/s")
}

// BenchmarkChain200InProcess is 200 echo tasks each taking the previous
// one's result as its input: a chain, which goes to the worker in messages of
// up to 65 tasks (TaskMessage.Then), so most steps cost no broker round trip.
// Celery's chain of 200 took about 0.45 s.
func BenchmarkChain200InProcess(b *testing.B) {
	bus := benchEnv(b)
	g := runtimetest.NewGraph()
	prev := g.Echo("e", []any{int64(0)})
	for range 199 {
		prev = g.Echo("e", nil, runtimetest.Input(prev))
	}
	g.Out(prev)
	for b.Loop() {
		benchRun(b, bus, g)
	}
}

// BenchmarkRoundTripInProcess is the round trip of one task inside a run, as the
// runner sees it: publish, claim, run, result. Each task waits for the one
// before, whose result is its argument (a reference, which a chain cannot
// carry: the runner must publish each task), so the time between two
// successive results is one task's round trip; median and p99 over every
// step of every op (100 tasks). Celery's median was 1.5-2 ms.
func BenchmarkRoundTripInProcess(b *testing.B) {
	bus := benchEnv(b)
	g := runtimetest.NewGraph()
	prev := g.Echo("e", []any{int64(0)})
	for range 99 {
		prev = g.Echo("e", []any{runtimetest.Ref(prev)})
	}
	g.Out(prev)
	var steps []time.Duration
	for b.Loop() {
		var last time.Time
		l := runtime.ListenerFunc(func(u runtime.Update) {
			if u.Type != runtime.UpdateState || u.State != runtime.Success {
				return
			}
			if !last.IsZero() {
				steps = append(steps, u.Time.Sub(last))
			}
			last = u.Time
		})
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		rep, err := runtime.Run(ctx, g.G, runtime.Config{Bus: bus, Listener: l})
		cancel()
		if err != nil || rep.Status != runtime.Success {
			b.Fatalf("run: %v %v", err, rep)
		}
	}
	reportLatency(b, steps)
}

// BenchmarkRunOneTaskInProcess is a whole run of one task: it adds to the round trip
// what a run sets up and tears down on the broker (its event queue, its
// subscriptions).
func BenchmarkRunOneTaskInProcess(b *testing.B) {
	bus := benchEnv(b)
	g := runtimetest.NewGraph()
	g.Out(g.Echo("e", []any{int64(1)}))
	var d []time.Duration
	for b.Loop() {
		start := time.Now()
		benchRun(b, bus, g)
		d = append(d, time.Since(start))
	}
	reportLatency(b, d)
}

// BenchmarkRawRoundTrip is the physical floor: amqp091-go alone publishes a
// persistent request with confirms to a durable queue, a consumer on
// another connection answers on a reply queue, and the requester receives
// the answer. The issue measured 0.3-0.4 ms median here on classic queues.
// The quorum variant puts the request on a quorum queue, as omp's task
// queues are: its messages reach a consumer only once committed to disk.
func BenchmarkRawRoundTrip(b *testing.B) {
	for _, typ := range []string{"classic", "quorum"} {
		b.Run(typ, func(b *testing.B) { rawRoundTrip(b, typ) })
	}
}

func rawRoundTrip(b *testing.B, queueType string) {
	url := amqptest.URL(b)
	prefix := amqptest.Prefix(b)
	req, rep := prefix+"raw.req", prefix+"raw.rep"

	client, err := amqp.Dial(url)
	if err != nil {
		b.Fatal(err)
	}
	defer client.Close()
	server, err := amqp.Dial(url)
	if err != nil {
		b.Fatal(err)
	}
	defer server.Close()

	cch, err := client.Channel()
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		cch.QueueDelete(req, false, false, false)
		cch.QueueDelete(rep, false, false, false)
	}()
	for _, q := range []string{req, rep} {
		var args amqp.Table
		if q == req {
			args = amqp.Table{"x-queue-type": queueType}
		}
		if _, err := cch.QueueDeclare(q, true, false, false, false, args); err != nil {
			b.Fatal(err)
		}
	}
	if err := cch.Confirm(false); err != nil {
		b.Fatal(err)
	}
	replies, err := cch.Consume(rep, "", false, false, false, false, nil)
	if err != nil {
		b.Fatal(err)
	}

	sch, err := server.Channel()
	if err != nil {
		b.Fatal(err)
	}
	if err := sch.Confirm(false); err != nil {
		b.Fatal(err)
	}
	requests, err := sch.Consume(req, "", false, false, false, false, nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	go func() {
		for d := range requests {
			c, err := sch.PublishWithDeferredConfirmWithContext(ctx, "", rep, false, false,
				amqp.Publishing{Body: d.Body, DeliveryMode: amqp.Persistent})
			if err == nil {
				c.Wait()
			}
			d.Ack(false)
		}
	}()

	var lat []time.Duration
	body := []byte(`{"v":1}`)
	for b.Loop() {
		start := time.Now()
		c, err := cch.PublishWithDeferredConfirmWithContext(ctx, "", req, false, false,
			amqp.Publishing{Body: body, DeliveryMode: amqp.Persistent})
		if err != nil {
			b.Fatal(err)
		}
		if !c.Wait() {
			b.Fatal("publish not confirmed")
		}
		d := <-replies
		d.Ack(false)
		lat = append(lat, time.Since(start))
	}
	reportLatency(b, lat)
}

func reportLatency(b *testing.B, d []time.Duration) {
	if len(d) == 0 {
		return
	}
	slices.Sort(d)
	ms := func(x time.Duration) float64 { return float64(x) / float64(time.Millisecond) }
	b.ReportMetric(ms(d[len(d)/2]), "median-ms")
	b.ReportMetric(ms(d[min(len(d)-1, len(d)*99/100)]), "p99-ms")
}
