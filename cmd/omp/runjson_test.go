package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestRunJSONDocument runs a real pipeline with --json and compares the run
// document with testdata/run_json.golden, times, durations and the run id
// normalised. Every field the spec lists is present in every task, empty or
// null where it has no value: a reduce node's name, label and worker, a
// never-started task's times, a task's log and metrics without any; with
// --no-record too. With UPDATE_SCRIPTS=1 set the golden file is rewritten.
func TestRunJSONDocument(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"p.omp": `script metrics()
script flaky() with retries=1, backoff=10ms
script flaky() -> echo after()
echo a([1, 2.5]) -> reduce sum
`,
		"scripts/metrics.sh": `echo '{"name": "accuracy", "value": 0.93, "step": 2}' >> "$OMP_METRICS"
echo 'fitting' >&2
echo '{"ok": true}'
`,
		"scripts/flaky.sh": "echo 'no luck' >&2\nexit 1\n",
	})
	golden := filepath.Join("testdata", "run_json.golden")
	// --no-record computes no cache keys unless --json asks for them: the
	// document is the same either way.
	for _, flags := range [][]string{{}, {"--no-record"}} {
		t.Run(strings.Join(append([]string{"recorded"}, flags...), " "), func(t *testing.T) {
			var out, errOut bytes.Buffer
			args := append(append([]string{"run", "--json", "--keep-going"}, flags...), filepath.Join(dir, "p.omp"))
			code := execute(context.Background(), &streams{in: strings.NewReader(""), out: &out, err: &errOut}, args)
			if code != ExitFailure {
				t.Fatalf("exit code %d, want %d; stderr:\n%s", code, ExitFailure, errOut.String())
			}
			got := normaliseRunJSON(out.String(), dir)
			if os.Getenv("UPDATE_SCRIPTS") != "" && len(flags) == 0 {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("run document differs from %s (UPDATE_SCRIPTS=1 to accept):\n%s", golden, got)
			}
		})
	}
}

var runJSONVolatile = []struct {
	re   *regexp.Regexp
	repl string
}{
	{regexp.MustCompile(`"run_id": "[^"]+"`), `"run_id": "RUN-ID"`},
	// A cache key includes the version of its kind, for a built-in kind
	// the digest of the omp under test; result digests stay.
	{regexp.MustCompile(`("(digest|value)": )"sha256:[0-9a-f]{64}"`), `$1"sha256:HEX"`},
	// (the build ID of the omp under test, when the go command built it)
	{regexp.MustCompile(`("value": )"go-build:[^"]+"`), `$1"go-build:ID"`},
	{regexp.MustCompile(`"(started|finished)": "[^"]+"`), `"$1": "TIME"`},
	{regexp.MustCompile(`"duration": [0-9.e+-]+`), `"duration": 0`},
}

func normaliseRunJSON(s, dir string) string {
	s = strings.ReplaceAll(s, dir+string(filepath.Separator), "")
	for _, v := range runJSONVolatile {
		s = v.re.ReplaceAllString(s, v.repl)
	}
	return s
}
