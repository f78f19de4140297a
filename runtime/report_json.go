package runtime

import (
	"encoding/json"
	"time"
)

// The run document (`omp run --json`) is a machine form: a consumer may rely
// on every field being there, with one JSON type, whatever happened to the
// task. So nothing is left out when empty: a string is "", a list [], and a
// time that never came (a task that never started) null.

// MarshalJSON writes the report with every field present; see TaskReport.
func (r Report) MarshalJSON() ([]byte, error) {
	type plain Report
	p := plain(r)
	if p.Results == nil {
		p.Results = []json.RawMessage{}
	}
	if p.Tasks == nil {
		p.Tasks = []*TaskReport{}
	}
	return json.Marshal(p)
}

// MarshalJSON writes the task with every field present: started and
// finished are null for a task that never started or never finished, log
// and metrics [] when there are none, and the strings "" where they do not
// apply (a reduce node has no name, label or worker).
func (t TaskReport) MarshalJSON() ([]byte, error) {
	type plain TaskReport
	p := plain(t)
	if p.Log == nil {
		p.Log = []string{}
	}
	if p.Metrics == nil {
		p.Metrics = []Metric{}
	}
	// These shadow plain's fields of the same names, which encoding/json
	// then leaves out.
	return json.Marshal(struct {
		plain
		Started  *time.Time `json:"started"`
		Finished *time.Time `json:"finished"`
	}{p, timeOrNil(t.Started), timeOrNil(t.Finished)})
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
