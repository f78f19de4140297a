package echo

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ompdev/omp/plugins/sdk"
)

type logs []string

func (l *logs) Log(line string)             { *l = append(*l, line) }
func (l *logs) Metric(string, float64, int) {}
func (l *logs) Progress(int, int)           {}

func TestEcho(t *testing.T) {
	tests := []struct {
		name      string
		args      []string
		kwargs    map[string]string
		input     string
		attempt   int
		want      string
		err       string
		permanent bool
		logs      string
	}{
		{name: "argument", args: []string{`[1,"a"]`}, input: `"in"`, want: `[1,"a"]`},
		{name: "input", input: `{"x":1}`, want: `{"x":1}`},
		{name: "nothing", want: `null`},
		{name: "log", args: []string{`1`}, kwargs: map[string]string{"log": `"hi"`}, want: `1`, logs: "hi"},
		{name: "fail", kwargs: map[string]string{"fail": `"no"`}, err: "no"},
		{name: "fail permanently", kwargs: map[string]string{"fail": `"no"`, "permanent": `true`}, err: "no", permanent: true},
		{name: "failing attempt", kwargs: map[string]string{"fail_attempts": `2`}, attempt: 2, err: "attempt 2 failed"},
		{name: "attempt after the failing ones", args: []string{`3`}, kwargs: map[string]string{"fail_attempts": `2`}, attempt: 3, want: `3`},
		{name: "short sleep", args: []string{`1`}, kwargs: map[string]string{"sleep": `"1ms"`}, want: `1`},
		{name: "bad sleep", kwargs: map[string]string{"sleep": `"x"`}, err: `echo e: sleep: time: invalid duration "x"`, permanent: true},
		{name: "bad kwarg type", kwargs: map[string]string{"fail_attempts": `"x"`}, err: "echo e: argument fail_attempts: json: cannot unmarshal string into Go value of type int", permanent: true},
		{name: "two arguments", args: []string{`1`, `2`}, err: "echo e: takes at most 1 argument, got 2", permanent: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tk := sdk.Task{Kind: "echo", Name: "e", Action: "run", Attempt: max(tc.attempt, 1)}
			for _, a := range tc.args {
				tk.Args = append(tk.Args, json.RawMessage(a))
			}
			if tc.kwargs != nil {
				tk.Kwargs = map[string]json.RawMessage{}
				for k, v := range tc.kwargs {
					tk.Kwargs[k] = json.RawMessage(v)
				}
			}
			if tc.input != "" {
				tk.Input = json.RawMessage(tc.input)
			}
			var l logs
			res, err := Kind{}.Run(context.Background(), tk, &l)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				if sdk.IsPermanent(err) != tc.permanent {
					t.Errorf("IsPermanent = %v, want %v", !tc.permanent, tc.permanent)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, _ := json.Marshal(res)
			if string(got) != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
			if strings.Join(l, "|") != tc.logs {
				t.Errorf("logs %q, want %q", l, tc.logs)
			}
		})
	}
}

func TestSleepEndsOnCancel(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	tk := sdk.Task{Kind: "echo", Name: "e", Action: "run", Kwargs: map[string]json.RawMessage{"sleep": json.RawMessage(`"1h"`)}}
	start := time.Now()
	_, err := Kind{}.Run(ctx, tk, new(logs))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("took %v", d)
	}
}
