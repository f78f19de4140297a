package runtime

import (
	"context"
	"sync"

	"github.com/ThreeDotsLabs/watermill/message"
)

// pool runs tasks on at most Concurrency runner goroutines that live as long
// as the takers, each taking one task after another, instead of a goroutine
// per task: a task's call path (gRPC to the plugin) is deep, and a fresh
// goroutine per task spent a noticeable share of the worker's CPU growing and
// copying its stack.
type pool struct {
	w     *Worker
	life  context.Context // the tasks' parent context, which outlives the taking
	work  chan *message.Message
	slots chan struct{} // one per runner
	jobs  sync.WaitGroup
}

func newPool(w *Worker, life context.Context) *pool {
	return &pool{
		w:     w,
		life:  life,
		work:  make(chan *message.Message),
		slots: make(chan struct{}, w.cfg.Concurrency),
	}
}

// takeAll hands the messages of every subscription to the runners until the
// subscriptions end (they end with ctx). The runners may still be busy when
// it returns: wait on done.
func (p *pool) takeAll(ctx context.Context, subs []<-chan *message.Message) {
	var takers sync.WaitGroup
	for _, ch := range subs {
		takers.Add(1)
		go func() {
			defer takers.Done()
			p.take(ctx, ch)
		}()
	}
	takers.Wait()
	close(p.work)
}

// take hands one subscription's messages to the runners; once ctx is done,
// it gives them back to the bus.
func (p *pool) take(ctx context.Context, ch <-chan *message.Message) {
	for msg := range ch {
		if ctx.Err() != nil {
			msg.Nack()
			continue
		}
		p.dispatch(ctx, msg)
	}
}

// dispatch waits for a runner only with a message in hand: a taker that held
// one while waiting would starve other labels. An idle runner goes first; a
// new one starts only when none is idle and there is room for it.
func (p *pool) dispatch(ctx context.Context, msg *message.Message) {
	select {
	case p.work <- msg:
		return
	default:
	}
	select {
	case p.work <- msg:
	case p.slots <- struct{}{}:
		p.jobs.Add(1)
		go p.run(msg)
	case <-ctx.Done():
		msg.Nack()
	}
}

// run handles msg, then every message handed to it until the taking ends.
func (p *pool) run(msg *message.Message) {
	defer p.jobs.Done()
	for ok := true; ok; msg, ok = <-p.work {
		if msg.Context().Err() != nil {
			// The bus took the message back while it waited for a
			// runner (AMQP: held past its hold limit or its channel
			// died): someone else may run it now.
			msg.Nack()
			continue
		}
		p.w.handle(p.life, msg)
	}
}

// done is closed when every runner has returned.
func (p *pool) done() <-chan struct{} {
	done := make(chan struct{})
	go func() {
		p.jobs.Wait()
		close(done)
	}()
	return done
}
