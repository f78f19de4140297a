package script

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/ompdev/omp/plugins/sdk/sdktest"
)

// TestExampleScripts runs the scripts in examples/scripts, so the examples
// keep to the protocol.
func TestExampleScripts(t *testing.T) {
	const store = "../../examples"
	tests := []struct {
		script  string
		args    []string
		input   string
		timeout time.Duration
		want    string
		err     string
		logs    string
		metrics string
	}{
		{script: "hello", args: []string{`"omp"`}, want: `"hello, omp"`, logs: "task task-7 (attempt 2) says hello"},
		{script: "hello", want: `"hello, world"`, logs: "task task-7 (attempt 2) says hello"},
		{script: "prep", args: []string{`3`}, want: `[1,2,3]`, logs: "prepared 3 rows", metrics: "rows=3@0"},
		{script: "square", args: []string{`7`}, want: `49`},
		{script: "square", input: `[1,2,3]`, want: `[1,4,9]`},
		{script: "fail", err: "exit status 1: loading data\nerror: column 'price' not found", logs: "loading data|error: column 'price' not found"},
		{script: "slow", timeout: 200 * time.Millisecond, err: "context deadline exceeded", logs: "sleeping"},
	}
	for _, tc := range tests {
		t.Run(tc.script, func(t *testing.T) {
			tk := task(store, tc.script)
			for _, a := range tc.args {
				tk.Args = append(tk.Args, json.RawMessage(a))
			}
			if tc.input != "" {
				tk.Input = json.RawMessage(tc.input)
			}
			ctx := context.Background()
			if tc.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.timeout)
				defer cancel()
			}
			rec := &sdktest.Recorder{}
			res, err := Kind{}.Run(ctx, tk, rec)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
			} else if err != nil {
				t.Fatalf("Run: %v (logs %q)", err, rec.Logs())
			} else if got := result(t, res); got != tc.want {
				t.Errorf("result %s, want %s", got, tc.want)
			}
			if got := strings.Join(rec.Logs(), "|"); got != tc.logs {
				t.Errorf("logs %q, want %q", got, tc.logs)
			}
			if got := strings.Join(rec.Metrics(), " "); got != tc.metrics {
				t.Errorf("metrics %q, want %q", got, tc.metrics)
			}
		})
	}
}
