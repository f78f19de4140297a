package runtime

import (
	"github.com/ThreeDotsLabs/watermill"
)

// EmbeddedConfig configures the embedded bus.
type EmbeddedConfig struct {
	// Buffer is how many messages a subscription holds before a publisher
	// waits; default 16384.
	Buffer int
	// Logger receives Watermill's logs; default none.
	Logger watermill.LoggerAdapter
}

// NewEmbeddedBus returns a Bus that lives in this process, on Watermill's
// GoChannel pub/sub. Its task topics are work queues: the bus keeps one
// GoChannel subscription per task topic (from Prepare, the first Publish
// or the first Subscribe on it) and every Tasks().Subscribe shares it, so
// each message goes to one subscriber. Tasks().Subscribe(ctx,
// TaskTopic(AnyLabel)) takes tasks of every label.
func NewEmbeddedBus(cfg EmbeddedConfig) Bus {
	panic("runtime: NewEmbeddedBus: not implemented yet")
}
