package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ompdev/omp/internal/amqptest"
)

var updateTTY = flag.Bool("update-tty", false, "rewrite testdata/tty/*.txt from the screens captured")

// tmuxTerm is a terminal that a person would see: omp runs in a tmux pane,
// which is a real pseudo-terminal, and tmux's own emulator renders what
// omp wrote; capture returns the screen as text.
type tmuxTerm struct {
	t    *testing.T
	sock string
	dir  string
}

// startTerm runs `omp ARGS` in dir on a terminal of width×height, then
// prints omp's exit status, and keeps the pane open for capture.
func startTerm(t *testing.T, width, height int, dir string, args ...string) *tmuxTerm {
	t.Helper()
	return startTermEnv(t, width, height, dir, "NO_COLOR=1", args...)
}

// startTermEnv is startTerm with env (NAME=VALUE …) set for omp, and CI unset.
func startTermEnv(t *testing.T, width, height int, dir, env string, args ...string) *tmuxTerm {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatalf("tmux, which the terminal tests run omp in, is not installed: %v", err)
	}
	omp := ompBinary(t)
	tm := &tmuxTerm{t: t, sock: filepath.Join(t.TempDir(), "tmux"), dir: dir}
	// CI is unset, so that --progress=auto sees a terminal as a person's;
	// NO_COLOR keeps colour codes out of the capture, not the redraws.
	cmd := fmt.Sprintf("env -u CI %s %s %s; echo omp-exit=$?; exec sleep 3600", env, omp, strings.Join(args, " "))
	tm.tmux("-f", "/dev/null", "new-session", "-d", "-x", fmt.Sprint(width), "-y", fmt.Sprint(height), "-c", dir, cmd)
	t.Cleanup(func() { exec.Command("tmux", "-S", tm.sock, "kill-server").Run() })
	return tm
}

func (tm *tmuxTerm) tmux(args ...string) string {
	tm.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-S", tm.sock}, args...)...).CombinedOutput()
	if err != nil {
		tm.t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// capture is the screen, without the blank lines under the text.
func (tm *tmuxTerm) capture() string {
	tm.t.Helper()
	return strings.TrimRight(tm.tmux("capture-pane", "-p"), "\n ") + "\n"
}

// waitFor polls the screen until it matches re, for at most a minute (a
// busy machine runs 1,000 tasks slowly), and returns it.
func (tm *tmuxTerm) waitFor(re string) string {
	tm.t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(time.Minute)
	for {
		screen := tm.capture()
		if rx.MatchString(screen) {
			return screen
		}
		if time.Now().After(deadline) {
			tm.t.Fatalf("no %q on the screen after a minute:\n%s", re, screen)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// masks hide what changes from run to run: the run id, times, and the rate
// and estimate, which show only after a second.
var masks = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`\d{8}T\d{6}-[0-9a-f]{12}`), "RUNID"},
	{regexp.MustCompile(` · [\d.]+ tasks/s( · about \S+ left)?`), ""},
	{regexp.MustCompile(`\b\d+(\.\d+)?(µs|ms|s|m\d+s|h\d+m)\b`), "T"},
	{regexp.MustCompile(`\b(results/\w+_)\d{8}T\d+\.\d+Z`), "${1}TIME"},
	// The column of the counts depends on the widest, which may be a
	// time; TestLiveView checks the alignment.
	{regexp.MustCompile(`(\S)  +`), "$1  "},
}

func mask(s string) string {
	for _, m := range masks {
		s = m.re.ReplaceAllString(s, m.with)
	}
	return s
}

// goldenScreen compares a masked screen with testdata/tty/NAME.txt.
func goldenScreen(t *testing.T, name, screen string) {
	t.Helper()
	got := []byte(mask(screen))
	path := filepath.Join("testdata", "tty", name+".txt")
	if *updateTTY {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update-tty to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("screen %s differs (run with -update-tty to accept):\n--- got\n%s--- want\n%s", name, got, want)
	}
}

const failScript = `#!/bin/sh
echo "loading data" >&2
echo "error: column 'price' not found" >&2
exit 1
`

// TestTTYScreens runs omp on a terminal and compares the last screen of
// each run, times masked, with a golden capture. The live area must be
// whole: the statements' lines in order, the footer, then the summary,
// with nothing of an earlier frame left over.
func TestTTYScreens(t *testing.T) {
	for _, tc := range []struct {
		name          string
		width, height int
		files         map[string]string
		args          string
		exit          int
	}{{
		name: "fanout", width: 100, height: 12,
		files: map[string]string{"p.omp": "parallel < echo x(i) for i in 1..1000 > -> reduce count\n"},
		args:  "run p.omp",
	}, {
		name: "chain", width: 80, height: 10,
		files: map[string]string{"p.omp": "echo a(1) -> echo b(2) -> echo c(3)\necho alone(4)\n"},
		args:  "run --progress=tty p.omp",
	}, {
		name: "nested", width: 100, height: 14,
		files: map[string]string{"p.omp": "parallel < sequence < echo a(i) -> echo b(i) > for i in 1..3 > -> reduce collect\n" +
			"sequence < echo p(1), parallel < echo q(j) for j in 1..4 > >\n"},
		args: "run p.omp",
	}, {
		name: "keep-going", width: 100, height: 20,
		files: map[string]string{
			"p.omp":           "parallel < echo ok(i) for i in 1..4 >\nparallel < script fail(i) for i in 7..7 >\necho after(1)\n",
			"scripts/fail.sh": failScript,
		},
		args: "run --keep-going p.omp", exit: 1,
	}, {
		name: "narrow", width: 60, height: 20,
		files: map[string]string{
			"p.omp": "parallel < sequence < echo a(i) -> echo b(i) > for i in 1..50 > -> reduce collect\n" +
				"script fail(1) with retries=1, backoff=10ms\n",
			"scripts/fail.sh": failScript,
		},
		args: "run --keep-going p.omp", exit: 1,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeFiles(t, tc.files)
			tm := startTerm(t, tc.width, tc.height, dir, tc.args)
			screen := tm.waitFor(`omp-exit=\d+`)
			if want := fmt.Sprintf("omp-exit=%d\n", tc.exit); !strings.HasSuffix(screen, want) {
				t.Errorf("screen does not end with %q:\n%s", want, screen)
			}
			checkWidth(t, screen, tc.width)
			goldenScreen(t, tc.name, screen)
		})
	}
}

// checkWidth fails when a line fills the whole width: the view truncates
// to one column less than a line that would wrap.
func checkWidth(t *testing.T, screen string, width int) {
	t.Helper()
	for _, line := range strings.Split(screen, "\n") {
		if n := len([]rune(line)); n > width {
			t.Errorf("line wider than %d: %q", width, line)
		}
	}
}

// TestTTYRetry watches a task fail, wait and run again: while its second
// attempt runs (until the test lets it end) its line says so, with ↻.
func TestTTYRetry(t *testing.T) {
	dir := writeFiles(t, map[string]string{"p.omp": "script flaky() with retries=2, backoff=10ms\n", "scripts/flaky.sh": ""})
	flaky := fmt.Sprintf(`#!/bin/sh
if [ ! -e %[1]s/tried ]; then touch %[1]s/tried; echo "first try fails" >&2; exit 1; fi
while [ ! -e %[1]s/go ]; do sleep 0.02; done
echo '"ok"'
`, dir)
	if err := os.WriteFile(filepath.Join(dir, "scripts", "flaky.sh"), []byte(flaky), 0o755); err != nil {
		t.Fatal(err)
	}
	tm := startTerm(t, 80, 8, dir, "run p.omp")
	goldenScreen(t, "retry-running", tm.waitFor(`↻ script flaky.*attempt 2, running`))
	if err := os.WriteFile(filepath.Join(dir, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	goldenScreen(t, "retry-done", tm.waitFor(`omp-exit=0`))
}

// TestTTYInterrupt presses Ctrl-C while tasks run, after the terminal was
// made narrower: omp exits 130 and the last frame is whole, with the ^C
// that the terminal echoed gone.
func TestTTYInterrupt(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"p.omp":           "echo first(1)\nparallel < script slow(i) for i in 1..3 >\n",
		"scripts/slow.sh": "#!/bin/sh\nsleep 60\n",
	})
	tm := startTerm(t, 90, 10, dir, "run p.omp")
	tm.waitFor(`(?s)✓ echo first.*3 running`)
	tm.tmux("resize-window", "-x", "70")
	tm.waitFor(`(?m)^▸ parallel < script slow\(i\) for i in 1\.\.3 > +░+ 0/3 3 running$`)
	tm.tmux("send-keys", "C-c")
	screen := tm.waitFor(`omp-exit=\d+`)
	if !strings.HasSuffix(screen, "omp-exit=130\n") {
		t.Errorf("omp did not exit 130 on Ctrl-C:\n%s", screen)
	}
	checkWidth(t, screen, 70)
	goldenScreen(t, "interrupt", screen)
}

// TestTTYColour checks that the marks are coloured on a terminal that has
// colours, and that NO_COLOR turns the colours off.
func TestTTYColour(t *testing.T) {
	dir := writeFiles(t, map[string]string{"p.omp": "echo a(1)\nparallel < echo x(i) for i in 1..5 >\n"})
	for _, tc := range []struct {
		env    string
		colour bool
	}{{"TERM=xterm-256color", true}, {"TERM=xterm-256color NO_COLOR=1", false}} {
		tm := startTermEnv(t, 80, 8, dir, tc.env, "run p.omp")
		tm.waitFor(`omp-exit=0`)
		screen := tm.tmux("capture-pane", "-p", "-e")
		// tmux writes the green of ✓ as SGR 32.
		if got := strings.Contains(screen, "\x1b[32m✓"); got != tc.colour {
			t.Errorf("%s: green ✓ on the screen: %v, want %v:\n%q", tc.env, got, tc.colour, screen)
		}
	}
}

// TestTTYAutoPlain checks that --progress=auto prints plain lines on a
// terminal when CI is set or the terminal is dumb, and the live view
// otherwise.
func TestTTYAutoPlain(t *testing.T) {
	dir := writeFiles(t, map[string]string{"p.omp": "echo a(1)\n"})
	for _, tc := range []struct {
		env   string
		plain bool
	}{{"CI=true NO_COLOR=1", true}, {"TERM=dumb NO_COLOR=1", true}, {"TERM=xterm NO_COLOR=1", false}} {
		tm := startTermEnv(t, 80, 8, dir, tc.env, "run p.omp")
		screen := tm.waitFor(`omp-exit=0`)
		if got := regexp.MustCompile(`(?m)^✓ echo a\(1\)\[s1\] \(`).MatchString(screen); got != tc.plain {
			t.Errorf("%s: plain lines: %v, want %v:\n%s", tc.env, got, tc.plain, screen)
		}
		if got := strings.Contains(screen, "· 1/1 tasks"); got == tc.plain {
			t.Errorf("%s: live footer: %v, want %v:\n%s", tc.env, got, !tc.plain, screen)
		}
	}
}

// TestTTYWaiting runs a task of a label that no worker serves, on a broker:
// once the run warns, the statement's line says what it waits for, with ⏸,
// and the warning stands above the live lines. Ctrl-C ends the wait.
func TestTTYWaiting(t *testing.T) {
	dir := writeFiles(t, map[string]string{"p.omp": "echo a(1)\necho b(2) @gpu\n"})
	tm := startTerm(t, 90, 8, dir, "run --broker", amqptest.VHost(t), "p.omp")
	screen := tm.waitFor(`(?m)^⏸ echo b\(2\) @gpu +waiting for a worker of label gpu$`)
	if !strings.Contains(screen, "! no worker serves label gpu") {
		t.Errorf("no warning above the live lines:\n%s", screen)
	}
	tm.tmux("send-keys", "C-c")
	tm.waitFor(`omp-exit=130`)
}
