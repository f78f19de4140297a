package host

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-plugin/runner"
)

// pipeDelay bounds how long a plugin's stdout and stderr are read after it
// exited: what it wrote itself is read by then, and only a process it
// started can hold them open longer.
const pipeDelay = time.Second

// groupRunner runs a plugin for go-plugin as go-plugin's own runner does,
// but a plugin that misbehaves cannot hold omp up:
//   - The plugin leads a process group of its own, and Kill kills the group,
//     so a plugin that started a process of its own (a shell script running
//     `sleep`) takes it along. go-plugin's runner kills only the plugin.
//   - go-plugin reads the plugin's stdout and stderr to their end before it
//     waits for the process; a process left over from the plugin that holds
//     them open would keep it waiting as long as that process lives. Here
//     the process is waited for from the start, and its pipes are closed
//     pipeDelay after it exited (exec.Cmd.WaitDelay), whoever holds them.
type groupRunner struct {
	cmd *exec.Cmd
	// The ends that go-plugin reads, and those that the Cmd's copying
	// goroutines write to; closed once the Cmd is waited for.
	stdout, stderr *io.PipeReader
	outW, errW     *io.PipeWriter

	mu   sync.Mutex
	pid  int
	done chan struct{} // closed when the process was waited for
	err  error         // how it ended
}

var _ runner.Runner = (*groupRunner)(nil)

// newGroupRunner returns the runner for argv, which go-plugin's
// ClientConfig.RunnerFunc calls with a Cmd holding the environment and
// stdin the plugin gets.
func newGroupRunner(argv []string, self string, spec *exec.Cmd) *groupRunner {
	cmd := exec.Command(argv[0], argv[1:]...)
	if self != "" && argv[0] == self {
		// `ps` shows "omp plugin-serve echo", not a temporary path.
		cmd.Args[0] = "omp"
	}
	cmd.Env = spec.Env
	cmd.Stdin = spec.Stdin
	cmd.SysProcAttr = sysProcAttr()
	cmd.WaitDelay = pipeDelay
	r := &groupRunner{cmd: cmd, done: make(chan struct{})}
	r.stdout, r.outW = io.Pipe()
	r.stderr, r.errW = io.Pipe()
	// Not *os.File: the Cmd copies from the pipes with goroutines of its
	// own, which WaitDelay bounds.
	cmd.Stdout, cmd.Stderr = r.outW, r.errW
	return r
}

func (r *groupRunner) Start(context.Context) error {
	if err := r.cmd.Start(); err != nil {
		r.outW.Close()
		r.errW.Close()
		return err
	}
	r.mu.Lock()
	r.pid = r.cmd.Process.Pid
	r.mu.Unlock()
	go func() {
		err := r.cmd.Wait()
		// Whatever the plugin left behind in its group goes too. The
		// group's id is the plugin's pid, which the kernel does not give
		// out again while the group has members; once it has none and the
		// plugin was waited for, it may: so kill now, and not in a later
		// Kill.
		r.killGroup()
		r.mu.Lock()
		r.err = err
		close(r.done)
		r.mu.Unlock()
		r.outW.Close()
		r.errW.Close()
	}()
	return nil
}

// killGroup kills the plugin's process group.
func (r *groupRunner) killGroup() {
	r.mu.Lock()
	pid := r.pid
	r.mu.Unlock()
	if pid > 0 {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
	}
}

func (r *groupRunner) exited() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

func (r *groupRunner) Wait(ctx context.Context) error {
	select {
	case <-r.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// Kill kills the plugin's process group. Once the plugin was waited for,
// its group was killed already, and its id may belong to another group.
func (r *groupRunner) Kill(context.Context) error {
	if r.exited() {
		return nil
	}
	r.killGroup()
	if p := r.cmd.Process; p != nil {
		if err := p.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
			return err
		}
	}
	return nil
}

func (r *groupRunner) Stdout() io.ReadCloser { return r.stdout }
func (r *groupRunner) Stderr() io.ReadCloser { return r.stderr }
func (r *groupRunner) Name() string          { return r.cmd.Path }

func (r *groupRunner) ID() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pid == 0 {
		return ""
	}
	return strconv.Itoa(r.pid)
}

// Diagnose adds nothing: startError words the failure.
func (r *groupRunner) Diagnose(context.Context) string { return "" }

// The plugin runs on this machine: addresses mean the same on both sides.
func (r *groupRunner) PluginToHost(network, addr string) (string, string, error) {
	return network, addr, nil
}

func (r *groupRunner) HostToPlugin(network, addr string) (string, string, error) {
	return network, addr, nil
}
