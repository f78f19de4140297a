// Package runtime executes a compiled pipeline graph: a scheduler (Run) that
// dispatches tasks as messages on a Bus and collects their events, and a
// Worker that consumes task messages of its labels and runs them through an
// Executor (the plugin host in production).
//
// The runtime speaks only Watermill's message.Publisher and
// message.Subscriber, so the same scheduler and worker run in one process on
// the embedded bus (NewEmbeddedBus) and across machines on
// RabbitMQ (package runtime/amqpbus). Package runtimetest is the conformance
// suite every Bus passes.
//
// # Protocol
//
// Every message is a versioned JSON envelope (message.go); a receiver rejects
// another version. Topics:
//
//   - omp.tasks.LABEL: TaskMessage, a work queue (each message goes to one
//     worker serving LABEL);
//   - omp.events.RUN-ID: Event, from workers to the runner of RUN-ID;
//   - omp.workers: Heartbeat, to everyone;
//   - omp.control: Control (CANCEL, DRAIN), from runners to every worker.
//
// Delivery is at least once and in no particular order, and the protocol is
// built for both:
//
//   - A worker that takes a task message runs it. Done within the message's
//     ClaimWithin (10ms), it publishes the outcome (RESULT or FAILURE) and
//     then acks; otherwise it claims the task with STARTED, acks, and renews
//     the claim with LEASE events every LeaseInterval until the outcome. An
//     acked message is therefore always either finished or claimed, and a
//     task may run for hours without holding a broker's message.
//   - The runner publishes a task again (Dispatch+1) when its claim lapses
//     (three LeaseIntervals without a word: the worker died), as a new
//     attempt since the work starts over, though not one that spends a
//     retry; and, as the same attempt, when it went unclaimed for
//     DispatchTimeout while a worker serving its label announced a free slot
//     and nothing of the label moved (the message was lost). After
//     MaxDeliveries dispatches the task fails.
//   - Events carry the attempt, the dispatch, the worker's delivery id and a
//     sequence number. The runner applies each delivery's events in order,
//     drops repeats, ignores events of an attempt that is not current and
//     events of a task that ended, so a duplicate RESULT or FAILURE is never
//     counted twice.
//   - A task message may carry the tasks that follow it in a chain (Then):
//     once the task succeeded, the worker runs the next with the result as
//     its Input, as its first attempt and dispatch, without a message of its
//     own. The runner counts it dispatched, to that worker, when it hears
//     of its predecessor's success; if the worker releases it (it stops) or
//     is lost (its heartbeats lapse) before claiming it, the runner publishes
//     it. A message the runner publishes again carries no chain.
//   - Retries are the runner's: a failed attempt that may be retried waits
//     out its backoff on the runner (one timer for all) and is dispatched as
//     a new attempt, possibly to another worker; no worker slot is held while
//     waiting.
//   - Failing fast, the runner sends DRAIN (workers drop the run's queued
//     tasks, running ones finish); cancelled, it sends CANCEL (workers also
//     cancel the run's running attempts, which report FAILURE with
//     Cancelled set).
package runtime
