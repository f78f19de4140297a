// Package runtime executes a compiled pipeline graph: a scheduler (Run) that
// dispatches tasks as messages on a Bus and collects their events, and a
// Worker that consumes task messages of its labels and runs them through an
// Executor (the plugin host in production).
//
// The runtime speaks only Watermill's message.Publisher and
// message.Subscriber, so the same scheduler and worker run in one process on
// the embedded GoChannel bus (NewEmbeddedBus) and across machines on
// RabbitMQ (package runtime/amqpbus).
//
// Delivery is at least once. Every message is a versioned JSON envelope
// (message.go); the scheduler handles events idempotently by (task id,
// attempt), so a duplicate RESULT or FAILURE is ignored and an event of a
// stale attempt never overrides a newer one. A worker claims a task with a
// STARTED event before it acks the task message and renews the claim with
// LEASE events while the task runs; the scheduler re-publishes a task whose
// message was never claimed (DispatchTimeout) or whose lease lapsed (three
// LeaseIntervals without a word), and fails it after MaxDeliveries
// dispatches. This keeps long tasks clear of a broker's consumer timeout and
// recovers tasks of a worker killed mid-task.
package runtime
