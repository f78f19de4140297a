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
)

// Done reports whether s is final.
func (s State) Done() bool { return s == Success || s == Failure || s == Cancelled }
