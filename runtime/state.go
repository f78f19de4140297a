package runtime

// State is a task's state in a run.
type State string

const (
	Pending   State = "PENDING"   // waiting for its dependencies or a worker
	Started   State = "STARTED"   // a worker claimed it
	Retry     State = "RETRY"     // an attempt failed; another will run
	Success   State = "SUCCESS"   // done, with a result
	Failure   State = "FAILURE"   // failed for good
	Cancelled State = "CANCELLED" // never finished: the run failed fast or was cancelled
	// Cached: not run, since a task of the resumed run with the same
	// cache key succeeded; its result is that task's.
	Cached State = "CACHED"
)

// Done reports whether s is final.
func (s State) Done() bool { return s.Succeeded() || s == Failure || s == Cancelled }

// Succeeded reports whether s is final with a result: Success or Cached.
func (s State) Succeeded() bool { return s == Success || s == Cached }
