package amqptest_test

import (
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ompdev/omp/internal/amqptest"
)

// docCommand is one command a reader is shown: a line of a ```sh block of
// README.md or docs/*.md (unless the block is a script, starting with #!), or an indented `omp …` or `go run …` line in the
// comment at the top of an example.
type docCommand struct {
	where string // FILE:LINE
	line  string
}

// skippedCommands are the documented commands this test does not run, and
// why. Every other one runs.
var skippedCommands = map[string]string{
	"sudo bash .ci/rabbitmq.sh": "installs and starts RabbitMQ as root; the tests' broker is that one, already running",
	"go test ./...":             "runs every test of the repository, this one included",
}

// skippedDocs are documents whose commands another test follows.
var skippedDocs = map[string]string{
	"docs/writing-a-kind.md": "examples/plugins/http TestGuide runs its sh blocks in order, in a fresh home, and compares their output",
}

// brokerURL is the broker as the documents write it; the test puts a vhost
// of its own on the test broker in its place, and changes nothing else.
var brokerURL = regexp.MustCompile(`amqp://guest:guest@(localhost|rabbit|127\.0\.0\.1):5672/`)

// exampleCommand is a command in an example's comment: "#   omp run …".
var exampleCommand = regexp.MustCompile(`^#\s+((omp|go run) .*)$`)

// docCommands returns the documented commands of repo, grouped by the
// document that shows them, in the order it shows them.
func docCommands(t *testing.T, repo string) map[string][]docCommand {
	t.Helper()
	groups := map[string][]docCommand{}
	mds, _ := filepath.Glob(filepath.Join(repo, "docs", "*.md"))
	for _, md := range append([]string{filepath.Join(repo, "README.md")}, mds...) {
		rel, _ := filepath.Rel(repo, md)
		data, err := os.ReadFile(md)
		if err != nil {
			t.Fatal(err)
		}
		inSh := false
		lines := strings.Split(string(data), "\n")
		for i, line := range lines {
			switch {
			case strings.HasPrefix(line, "```"):
				// A block that starts with #! is a script's text,
				// shown to be saved in a file, not typed.
				inSh = !inSh && strings.TrimSpace(strings.TrimPrefix(line, "```")) == "sh" &&
					(i+1 >= len(lines) || !strings.HasPrefix(lines[i+1], "#!"))
			case inSh && strings.TrimSpace(line) != "" && !strings.HasPrefix(strings.TrimSpace(line), "#"):
				groups[rel] = append(groups[rel], docCommand{rel + ":" + strconv.Itoa(i+1), strings.TrimSpace(line)})
			}
		}
	}
	// [^.]: not .omp/, the run history that running the examples makes.
	examples, _ := filepath.Glob(filepath.Join(repo, "examples", "[^.]*.omp"))
	for _, ex := range examples {
		rel, _ := filepath.Rel(repo, ex)
		data, err := os.ReadFile(ex)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(data), "\n") {
			if m := exampleCommand.FindStringSubmatch(line); m != nil {
				groups[rel] = append(groups[rel], docCommand{rel + ":" + strconv.Itoa(i+1), strings.TrimSpace(m[1])})
			}
		}
	}
	return groups
}

// Every command that README.md, docs/*.md and the examples' comments show
// runs as written and exits 0, in the order of its document, from the
// directory a reader would be in (a fresh copy of the checkout's examples
// beside it). Only the broker URL changes: a vhost of this test's own on
// the test broker stands for amqp://guest:guest@localhost:5672/ or
// @rabbit:5672/. A worker (`omp worker …`, with or without a trailing &)
// is started in the background and stopped when its document is done; a
// command that ends in & too. `go run ./cmd/omp …` builds omp from this
// checkout and runs in it; every other `omp` is the omp built from it. The
// documents are followed at the same time, each in order.
func TestDocCommands(t *testing.T) {
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	groups := docCommands(t, repo)
	for _, must := range []string{"README.md", "docs/scaling-out.md", "examples/ml.omp"} {
		if len(groups[must]) == 0 {
			t.Errorf("found no command in %s: has the test lost track of its format?", must)
		}
	}
	bin := filepath.Dir(ompBin)
	for _, doc := range slices.Sorted(maps.Keys(groups)) {
		cmds := groups[doc]
		t.Run(doc, func(t *testing.T) {
			if why, ok := skippedDocs[doc]; ok {
				t.Skip(why)
			}
			// Each document has its own directory and vhost; only the
			// `go run` lines run in the checkout, whose run history
			// takes concurrent runs.
			t.Parallel()
			url := ""
			if slices.ContainsFunc(cmds, func(c docCommand) bool { return brokerURL.MatchString(c.line) }) {
				url = amqptest.VHost(t)
			}
			dir := t.TempDir()
			if err := os.CopyFS(filepath.Join(dir, "examples"), os.DirFS(freshExamples(t))); err != nil {
				t.Fatal(err)
			}
			path := []string{bin, os.Getenv("PATH")}
			if py := systemPythonDir(t); py != "" {
				path = slices.Insert(path, 1, py)
			}
			env := append(taskEnv(), "PATH="+strings.Join(path, string(os.PathListSeparator)))
			for _, c := range cmds {
				if why, ok := skippedCommands[c.line]; ok {
					t.Logf("%s: not run: %s: %s", c.where, c.line, why)
					continue
				}
				line := c.line
				if url != "" {
					line = brokerURL.ReplaceAllLiteralString(line, url)
				}
				cmdDir := dir
				if strings.HasPrefix(line, "go run ") {
					cmdDir = repo
				}
				background := strings.HasSuffix(line, "&") || strings.HasPrefix(line, "omp worker ")
				line = strings.TrimSpace(strings.TrimSuffix(line, "&"))
				t.Logf("%s: %s", c.where, c.line)
				if background {
					startBackground(t, cmdDir, env, c.where, line)
					continue
				}
				out, errOut, err := shell(cmdDir, env, line)
				if err != nil {
					t.Errorf("%s: %s: %v\nstdout:\n%s\nstderr:\n%s", c.where, c.line, err, out, errOut)
				}
			}
		})
	}
}

// systemPythonDir returns a directory whose python3 is the system's, as on
// the Debian machine a reader runs these commands on, or "" where there is
// none. The scripts' "#!/usr/bin/env python3" would otherwise find the
// python3 first on PATH, which may be a version manager's shim that costs
// seconds a start on a loaded machine: mapreduce.omp starts a hundred.
func systemPythonDir(t *testing.T) string {
	if !nbclientOnce() {
		return ""
	}
	dir := t.TempDir()
	if err := os.Symlink(systemPython, filepath.Join(dir, "python3")); err != nil {
		t.Fatal(err)
	}
	return dir
}

// shell runs line with bash in dir, killing it after two minutes.
func shell(dir string, env []string, line string) (stdout, stderr string, err error) {
	cmd := exec.Command("bash", "-c", line)
	cmd.Dir, cmd.Env = dir, env
	return runWithin(2*time.Minute, cmd)
}

// startBackground starts line with bash in dir, as a shell runs a command
// that ends in &, and stops it when t ends. A worker is waited for until it
// serves.
func startBackground(t *testing.T, dir string, env []string, where, line string) {
	t.Helper()
	cmd := exec.Command("bash", "-c", "exec "+line)
	cmd.Dir, cmd.Env = dir, env
	p := startProc(t, where, where+": "+line, cmd)
	if strings.HasPrefix(line, "omp worker ") {
		p.waitFor(t, "serving", 15*time.Second)
	}
}
