package script

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ompdev/omp/internal/testbin"
	"github.com/ompdev/omp/plugins/sdk"
	"github.com/ompdev/omp/plugins/sdk/sdktest"
)

// newStore makes a store with the given files under scripts/; a name ending
// in "*" is made executable (without the star).
func newStore(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "scripts"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range files {
		mode := os.FileMode(0o644)
		if n, ok := strings.CutSuffix(name, "*"); ok {
			name, mode = n, 0o755
		}
		path := filepath.Join(dir, "scripts", name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func task(storeDir, name string) sdk.Task {
	return sdk.Task{RunID: "run-1", TaskID: "task-7", Attempt: 2, Kind: "script", Name: name, Action: "run", Store: storeDir}
}

func result(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestProtocol(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		task  func(sdk.Task) sdk.Task
		want  string // the result as JSON; "$STORE" stands for the store root
		logs  []string
	}{{
		name:  "stdin",
		files: map[string]string{"s*": "#!/bin/sh\ncat > \"$OMP_RESULT\"\n"},
		task: func(t sdk.Task) sdk.Task {
			t.Args = []json.RawMessage{json.RawMessage(`1`), json.RawMessage(`"a"`)}
			t.Kwargs = map[string]json.RawMessage{"k": json.RawMessage(`true`)}
			t.Input = json.RawMessage(`{"x":[1,2]}`)
			return t
		},
		want: `{"args":[1,"a"],"kwargs":{"k":true},"input":{"x":[1,2]}}`,
	}, {
		name:  "stdin without arguments",
		files: map[string]string{"s*": "#!/bin/sh\ncat > \"$OMP_RESULT\"\n"},
		want:  `{"args":[],"kwargs":{},"input":null}`,
	}, {
		name: "environment and working directory",
		files: map[string]string{"s*": `#!/bin/sh
test -n "$OMP_RESULT" || exit 9
test -f "$OMP_METRICS" || exit 8
printf '["%s","%s","%s","%s","%s"]\n' "$OMP_RUN_ID" "$OMP_TASK_ID" "$OMP_ATTEMPT" "$OMP_STORE" "$(pwd)"
`},
		want: `["run-1","task-7","2","$STORE","$STORE"]`,
	}, {
		name:  "result file wins over stdout",
		files: map[string]string{"s*": "#!/bin/sh\necho '{\"from\":\"file\"}' > \"$OMP_RESULT\"\necho '{\"from\":\"stdout\"}'\n"},
		want:  `{"from":"file"}`,
	}, {
		name:  "stdout JSON",
		files: map[string]string{"s*": "#!/bin/sh\necho '  {\"n\": 42}'\n"},
		want:  `{"n":42}`,
	}, {
		name:  "plain stdout",
		files: map[string]string{"s*": "#!/bin/sh\necho 'hello world'\n"},
		want:  `"hello world"`,
	}, {
		name:  "plain stdout keeps all but the last newline",
		files: map[string]string{"s*": "#!/bin/sh\nprintf 'a\\nb\\n\\n'\n"},
		want:  `"a\nb\n"`,
	}, {
		name:  "no output",
		files: map[string]string{"s*": "#!/bin/sh\nexit 0\n"},
		want:  `null`,
	}, {
		name:  "stderr lines are logs",
		files: map[string]string{"s*": "#!/bin/sh\necho one >&2\nprintf 'two\\r\\nthree' >&2\necho 1\n"},
		want:  `1`,
		logs:  []string{"one", "two", "three"},
	}, {
		name:  "one file with an extension",
		files: map[string]string{"s.run*": "#!/bin/sh\necho 2\n", "other.sh": "echo 3\n"},
		want:  `2`,
	}, {
		name:  "shell script that is not executable",
		files: map[string]string{"s.sh": "echo \"$0\" | grep -q 's.sh$' && echo sh\n"},
		want:  `"sh"`,
	}, {
		name:  "python script that is not executable",
		files: map[string]string{"s.py": "import json, sys\nd = json.load(sys.stdin)\nprint(json.dumps({'sum': sum(d['args'])}))\n"},
		task: func(t sdk.Task) sdk.Task {
			t.Args = []json.RawMessage{json.RawMessage(`1`), json.RawMessage(`2`)}
			return t
		},
		want: `{"sum":3}`,
	}, {
		name:  "name with a directory",
		files: map[string]string{"sub/s*": "#!/bin/sh\necho nested\n"},
		task:  func(t sdk.Task) sdk.Task { t.Name = "sub/s"; return t },
		want:  `"nested"`,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			runCase(t, newStore(t, tc.files), tc.task, tc.want, tc.logs)
		})
	}
}

func runCase(t *testing.T, dir string, edit func(sdk.Task) sdk.Task, want string, logs []string) {
	t.Helper()
	tk := task(dir, "s")
	if edit != nil {
		tk = edit(tk)
	}
	rec := &sdktest.Recorder{}
	res, err := Kind{}.Run(context.Background(), tk, rec)
	if err != nil {
		t.Fatalf("Run: %v (logs %q)", err, rec.Logs())
	}
	root, _ := filepath.Abs(dir)
	if got, want := result(t, res), strings.ReplaceAll(want, "$STORE", root); got != want {
		t.Errorf("result %s, want %s", got, want)
	}
	if strings.Join(rec.Logs(), "\n") != strings.Join(logs, "\n") {
		t.Errorf("logs %q, want %q", rec.Logs(), logs)
	}
}

func TestFailures(t *testing.T) {
	var lines strings.Builder
	for i := 1; i <= 12; i++ {
		lines.WriteString("echo line" + strconv.Itoa(i) + " >&2\n")
	}
	tests := []struct {
		name      string
		files     map[string]string
		script    string
		want      string
		permanent bool
	}{
		{"exit status with the stderr tail", map[string]string{"s*": "#!/bin/sh\n" + lines.String() + "exit 3\n"}, "s",
			"exit status 3: line3\nline4\nline5\nline6\nline7\nline8\nline9\nline10\nline11\nline12", false},
		{"exit status without stderr", map[string]string{"s*": "#!/bin/sh\nexit 1\n"}, "s", "exit status 1", false},
		{"killed by a signal", map[string]string{"s*": "#!/bin/sh\nkill -9 $$\n"}, "s", "signal: killed", false},
		{"result file that is not JSON", map[string]string{"s*": "#!/bin/sh\necho nope > \"$OMP_RESULT\"\n"}, "s",
			"script s wrote a result to $OMP_RESULT that is not JSON", false},
		{"not found", map[string]string{"other*": ""}, "s", "script s not found: no scripts/s or scripts/s.* in $STORE", true},
		{"ambiguous", map[string]string{"s.py": "", "s.sh": ""}, "s", "script s is ambiguous: scripts/s.py, scripts/s.sh", true},
		{"not executable", map[string]string{"s.txt": ""}, "s", "script s: $STORE/scripts/s.txt is not executable (chmod +x it, or name it .py or .sh)", true},
		{"outside the store", nil, "../s", `script name "../s" is outside the store`, true},
		{"absolute", nil, "/bin/sh", `script name "/bin/sh" is outside the store`, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := newStore(t, tc.files)
			_, err := Kind{}.Run(context.Background(), task(dir, tc.script), &sdktest.Recorder{})
			root, _ := filepath.Abs(dir)
			want := strings.ReplaceAll(tc.want, "$STORE", root)
			if err == nil || err.Error() != want {
				t.Fatalf("err = %v\nwant %s", err, want)
			}
			if sdk.IsPermanent(err) != tc.permanent {
				t.Errorf("IsPermanent = %v, want %v", !tc.permanent, tc.permanent)
			}
		})
	}
}

func TestMetrics(t *testing.T) {
	dir := newStore(t, map[string]string{"s*": `#!/bin/sh
echo '{"name": "loss", "value": 0.5, "step": 1}' >> "$OMP_METRICS"
# Wait until the runner has seen the first metric: proves it is read while
# the script runs, not only at the end.
i=0
while [ ! -f go ]; do
	i=$((i+1)); [ $i -gt 500 ] && exit 7
	sleep 0.01
done
echo '{"name": "loss", "value": 0.25, "step": 2}' >> "$OMP_METRICS"
echo 'not json' >> "$OMP_METRICS"
printf '{"name": "acc", "value": 1}' >> "$OMP_METRICS"
`})
	rec := &sdktest.Recorder{}
	rec.OnMetric = func(string) { _ = os.WriteFile(filepath.Join(dir, "go"), nil, 0o644) }
	if _, err := (Kind{}).Run(context.Background(), task(dir, "s"), rec); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(rec.Metrics(), " "), "loss=0.5@1 loss=0.25@2 acc=1@0"; got != want {
		t.Errorf("metrics %s, want %s", got, want)
	}
	if got, want := strings.Join(rec.Logs(), "\n"), `omp: ignored metrics line "not json": want {"name": ..., "value": ..., "step": ...}`; got != want {
		t.Errorf("logs %q, want %q", got, want)
	}
}

func waitDead(t *testing.T, pid int) {
	t.Helper()
	if !testbin.Exits(pid, 5*time.Second) {
		t.Fatalf("process %d still running", pid)
	}
}

func readPID(t *testing.T, path string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

func TestCancelKillsProcessGroup(t *testing.T) {
	dir := newStore(t, map[string]string{"s*": `#!/bin/sh
sleep 300 &
echo $! > grandchild.pid
echo $$ > script.pid
echo started >&2
wait
`})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rec := &sdktest.Recorder{OnLog: func(string) { cancel() }}
	start := time.Now()
	_, err := Kind{}.Run(ctx, task(dir, "s"), rec)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Run took %v to return after cancel", d)
	}
	waitDead(t, readPID(t, filepath.Join(dir, "script.pid")))
	waitDead(t, readPID(t, filepath.Join(dir, "grandchild.pid")))
}

func TestLeftoverChildrenKilledAtExit(t *testing.T) {
	dir := newStore(t, map[string]string{"s*": `#!/bin/sh
sleep 300 &
echo $! > grandchild.pid
echo done
`})
	res, err := Kind{}.Run(context.Background(), task(dir, "s"), &sdktest.Recorder{})
	if err != nil {
		t.Fatal(err)
	}
	if got := result(t, res); got != `"done"` {
		t.Errorf("result %s, want \"done\"", got)
	}
	waitDead(t, readPID(t, filepath.Join(dir, "grandchild.pid")))
}

func rawList(t *testing.T, s string) []json.RawMessage {
	t.Helper()
	var l []json.RawMessage
	if err := json.Unmarshal([]byte(s), &l); err != nil {
		t.Fatal(err)
	}
	return l
}

// TestSymlinks: a script that a symbolic link leads outside the store is
// refused and not run; one linked inside the store runs.
func TestSymlinks(t *testing.T) {
	outside := t.TempDir()
	marker := filepath.Join(outside, "ran")
	evil := "#!/bin/sh\ntouch " + marker + "\necho '{\"pwned\": true}'\n"
	if err := os.WriteFile(filepath.Join(outside, "evil.sh"), []byte(evil), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, "run"), []byte(evil), 0o755); err != nil {
		t.Fatal(err)
	}
	dir := newStore(t, map[string]string{"real.sh": "echo '{\"ok\": true}'\n"})
	for link, target := range map[string]string{
		"evil.sh":  filepath.Join(outside, "evil.sh"),
		"tools":    outside,
		"alias.sh": "real.sh",
	} {
		if err := os.Symlink(target, filepath.Join(dir, "scripts", link)); err != nil {
			t.Fatal(err)
		}
	}
	root, _ := filepath.Abs(dir)
	tests := []struct{ script, want, err string }{
		{"evil", "", "script evil: scripts/evil.sh: a symbolic link leads outside store " + root},
		{"evil.sh", "", "script evil.sh: scripts/evil.sh: a symbolic link leads outside store " + root},
		{"tools/run", "", "script tools/run: scripts/tools/run: a symbolic link leads outside store " + root},
		{"alias", `{"ok":true}`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.script, func(t *testing.T) {
			res, err := Kind{}.Run(context.Background(), task(dir, tc.script), &sdktest.Recorder{})
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("err = %v, want %s", err, tc.err)
				}
				if !sdk.IsPermanent(err) {
					t.Error("a script outside the store is a permanent failure")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := result(t, res); got != tc.want {
				t.Errorf("result %s, want %s", got, tc.want)
			}
		})
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("a script outside the store ran")
	}
}
