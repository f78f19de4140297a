package runtime_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/ompdev/omp/runtime"
	"github.com/ompdev/omp/runtime/cachekey"
)

// TestReportWriteJSON checks that the streamed document is, byte for byte,
// what json.Encoder writes of the whole report, which is what `omp run
// --json` printed before it streamed.
func TestReportWriteJSON(t *testing.T) {
	start := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	task := func(id string) *runtime.TaskReport {
		return &runtime.TaskReport{
			ID: id, Kind: "echo", Name: "e<&>", Action: "run", Label: "default", Worker: "w1",
			State: runtime.Success, Attempts: 1, Started: start, Finished: start.Add(time.Second), Duration: 1,
			Error: "bad\xffutf8 \u2028 & <x>",
			Log:   []string{"a line", `"quoted" <tag>`, "tab\tand \u2029"}, Metrics: []runtime.Metric{{Name: "loss", Value: 0.5, Step: 1}},
			Pos: "p.omp:1:1",
			CacheKey: &cachekey.Key{Digest: "sha256:00", Parts: []cachekey.Part{
				{Name: "kind", Value: "echo", Digest: "sha256:01"},
				{Name: "input", Digest: "sha256:02", Refs: []string{"a"}},
			}},
		}
	}
	tests := []struct {
		name   string
		report runtime.Report
	}{
		{"no tasks", runtime.Report{RunID: "r1", Status: runtime.Failure}},
		{"tasks and results", runtime.Report{
			RunID: "r2", Status: runtime.Success, Started: start, Finished: start.Add(2 * time.Second), Duration: 2,
			Results: []json.RawMessage{json.RawMessage(`{"a": [1, 2], "b": {}}`), nil, json.RawMessage(`"x"`)},
			Tasks:   []*runtime.TaskReport{task("a"), {ID: "never started", State: runtime.Cancelled}, task("c")},
		}},
		{"a result that looks like the tasks", runtime.Report{
			RunID:   "r3",
			Results: []json.RawMessage{json.RawMessage(`{"tasks": []}`), json.RawMessage(`[{"tasks": []}]`)},
			Tasks:   []*runtime.TaskReport{task("a")},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var want bytes.Buffer
			enc := json.NewEncoder(&want)
			enc.SetIndent("", "  ")
			if err := enc.Encode(&tt.report); err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			if err := tt.report.WriteJSON(&got); err != nil {
				t.Fatal(err)
			}
			if got.String() != want.String() {
				t.Errorf("WriteJSON wrote\n%s\nwant\n%s", got.String(), want.String())
			}
		})
	}
}
