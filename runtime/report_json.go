package runtime

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
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

// tasksKey is how the tasks begin in the indented document: the key at the
// top level is indented by exactly two spaces, so no result, which is
// nested deeper, can be mistaken for it.
const tasksKey = "\n  \"tasks\": "

// WriteJSON writes the report as json.Encoder with SetIndent("", "  ")
// writes it, byte for byte, without holding the whole document: a run of
// many tasks would need several copies of it at once (the document, its
// compact form, its indented form). Each task is encoded and indented on
// its own.
func (r *Report) WriteJSON(w io.Writer) error {
	head := *r
	head.Tasks = nil
	doc, err := json.Marshal(head)
	if err != nil {
		return err
	}
	var indented bytes.Buffer
	if err := json.Indent(&indented, doc, "", "  "); err != nil {
		return err
	}
	at := bytes.Index(indented.Bytes(), []byte(tasksKey+"[]"))
	if at < 0 {
		return errors.New("runtime: the report's tasks are missing from its JSON")
	}
	at += len(tasksKey)
	bw := bufio.NewWriter(w)
	bw.Write(indented.Bytes()[:at])
	if len(r.Tasks) == 0 {
		bw.WriteString("[]")
	} else {
		bw.WriteByte('[')
		var task bytes.Buffer
		for i, t := range r.Tasks {
			// Not json.Marshal(t), which would scan MarshalJSON's
			// compact and escaped output again to compact and escape
			// it: a quarter of writing a large run's document.
			b, err := t.MarshalJSON()
			if err != nil {
				return err
			}
			if i > 0 {
				bw.WriteByte(',')
			}
			bw.WriteString("\n    ")
			task.Reset()
			if err := json.Indent(&task, b, "    ", "  "); err != nil {
				return err
			}
			bw.Write(task.Bytes())
		}
		bw.WriteString("\n  ]")
	}
	bw.Write(indented.Bytes()[at+len("[]"):])
	bw.WriteByte('\n')
	return bw.Flush()
}
