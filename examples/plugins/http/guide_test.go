package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// block is a fenced code block of a Markdown file.
type block struct {
	info, body string
}

func fencedBlocks(md string) []block {
	var blocks []block
	var cur *block
	for line := range strings.Lines(md) {
		switch {
		case cur == nil && strings.HasPrefix(line, "```"):
			cur = &block{info: strings.TrimSpace(strings.TrimPrefix(line, "```"))}
		case cur != nil && strings.TrimSpace(line) == "```":
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			cur.body += line
		}
	}
	return blocks
}

// TestGuide follows docs/writing-a-kind.md literally, as a new user would:
// its shell blocks run in order in one bash, in a fresh home directory
// where ~/src/omp is this checkout; its go and omp blocks are saved as the
// guide says (main.go, stats.omp). What the commands print must be what the
// guide shows. This keeps the guide and its example code from rotting.
func TestGuide(t *testing.T) {
	if testing.Short() {
		t.Skip("builds omp and a plugin")
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	repo, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(repo, "docs", "writing-a-kind.md"))
	if err != nil {
		t.Fatal(err)
	}

	var script strings.Builder
	script.WriteString("set -eu\n")
	var goCode, plugins, results string
	files := map[string]string{"go": "main.go", "omp": "stats.omp"}
	for _, b := range fencedBlocks(string(md)) {
		switch b.info {
		case "sh":
			script.WriteString(b.body)
		case "go", "omp":
			if b.info == "go" {
				goCode = b.body
			}
			script.WriteString("cat > " + files[b.info] + " <<'GUIDE_EOF'\n" + b.body + "GUIDE_EOF\n")
		case "json":
			results = b.body
		case "":
			if strings.HasPrefix(b.body, "KIND ") {
				plugins = b.body
			}
		}
	}
	if goCode == "" || plugins == "" || results == "" {
		t.Fatal("the guide lost its go block, its `omp plugins` output or its `omp run` output")
	}
	if n := strings.Count(goCode, "\n"); n >= 40 {
		t.Errorf("the guide's kind is %d lines of Go; it promises fewer than 40", n)
	}

	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, "src"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(repo, filepath.Join(home, "src", "omp")); err != nil {
		t.Fatal(err)
	}
	env := []string{"HOME=" + home, "PATH=" + filepath.Join(home, "go", "bin") + string(os.PathListSeparator) + os.Getenv("PATH")}
	// A new HOME would mean a new, empty module cache: keep the real ones.
	for _, v := range []string{"GOMODCACHE", "GOCACHE", "GOPATH"} {
		out, err := exec.Command("go", "env", v).Output()
		if err != nil {
			t.Fatal(err)
		}
		env = append(env, v+"="+strings.TrimSpace(string(out)))
	}
	cmd := exec.Command(bash, "-c", script.String())
	cmd.Dir = home
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("following the guide failed: %v\nscript:\n%s\nstderr:\n%s", err, script.String(), stderr.String())
	}

	got := stdout.String()
	// The table lists every kind; the guide's line for stats must be there,
	// with the guide's /home/you standing for the home directory.
	var want string
	for line := range strings.Lines(plugins) {
		if strings.HasPrefix(line, "stats ") {
			want = strings.Join(strings.Fields(strings.ReplaceAll(line, "/home/you", home)), " ")
		}
	}
	var found bool
	for line := range strings.Lines(got) {
		if strings.Join(strings.Fields(line), " ") == want {
			found = true
		}
	}
	if !found {
		t.Errorf("omp plugins printed no line %q:\n%s", want, got)
	}
	if !strings.HasSuffix(got, results) {
		t.Errorf("omp run printed\n%s\nthe guide shows\n%s", got, results)
	}
}
