// Package amqptest gives tests a RabbitMQ of their own: the broker from
// OMP_TEST_AMQP (default amqp://guest:guest@127.0.0.1:5672/), and a fresh
// vhost or queue prefix per test that is deleted when the test ends.
// rabbitmqctl manages the machine's default node, or the node named by
// OMP_TEST_RABBITMQ_NODE (its -n): with both set, the tests that stop the
// broker can use a RabbitMQ node of their own instead of everyone's.
//
// A test skips when the broker cannot be reached, unless CI is set: in CI
// an unreachable broker fails the test, since .ci/run starts RabbitMQ.
package amqptest

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ompdev/omp/internal/redact"
	"github.com/ompdev/omp/runtime/amqpbus"
)

// DefaultURL is the broker the tests use when OMP_TEST_AMQP is unset.
const DefaultURL = "amqp://guest:guest@127.0.0.1:5672/"

// TB is what the broker helpers need of a test: testing.TB has it, and a
// testscript setup can provide it too.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Skipf(format string, args ...any)
	Cleanup(func())
}

// URL returns the test broker's URL, skipping or failing t when it does not
// answer.
func URL(t TB) string {
	t.Helper()
	return broker(t, false)
}

// Disrupt returns the test broker's URL like URL, for a test that disturbs
// everyone's broker (stops it, lowers its consumer timeout): it waits until
// no other AMQP test of any test process of this machine runs, and keeps
// them waiting until it ends. Do not call URL in the same test.
func Disrupt(t TB) string {
	t.Helper()
	return broker(t, true)
}

// broker takes a lock on a file that every AMQP test holds shared and a
// disruptive test holds exclusive (go test runs packages in parallel
// processes, so a lock inside one process would not do), then checks that
// the broker answers.
func broker(t TB, exclusive bool) string {
	t.Helper()
	u := os.Getenv("OMP_TEST_AMQP")
	if u == "" {
		u = DefaultURL
	}
	hp := amqpbus.HostPort(u)
	// One lock per broker: tests on a broker of their own do not wait for
	// those on the machine's.
	lock := "omp-amqp-tests.lock"
	if u != DefaultURL {
		lock = "omp-amqp-tests-" + strings.NewReplacer(":", "_", "/", "_", "[", "", "]", "").Replace(hp) + ".lock"
	}
	f, err := os.OpenFile(filepath.Join(os.TempDir(), lock), os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		t.Fatalf("broker lock: %v", err)
	}
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	if err := syscall.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		t.Fatalf("broker lock: %v", err)
	}
	t.Cleanup(func() { f.Close() })

	c, err := net.DialTimeout("tcp", hp, 2*time.Second)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("RabbitMQ at %s does not answer (%v); .ci/rabbitmq.sh should have started it", hp, err)
		}
		t.Skipf("RabbitMQ at %s does not answer (%v): start it (bash .ci/rabbitmq.sh) or set OMP_TEST_AMQP", hp, err)
	}
	c.Close()
	return u
}

var seq atomic.Int64

// Prefix returns a queue and exchange prefix unique to this test process
// and call, for an amqpbus.Config.
func Prefix(t testing.TB) string {
	name := strings.NewReplacer("/", ".", " ", "_").Replace(t.Name())
	if len(name) > 40 {
		name = name[:40]
	}
	return fmt.Sprintf("t%d.%d.%s.", os.Getpid(), seq.Add(1), name)
}

// VHost creates a vhost of its own for t with rabbitmqctl, gives the URL's
// user all rights on it, and returns the URL of the vhost. The vhost is
// deleted, with everything in it, when t ends. It needs rabbitmqctl on the
// broker's machine, as on this project's machines.
func VHost(t TB) string {
	t.Helper()
	return vhost(t, URL(t))
}

// DisruptVHost is VHost for a test that disturbs the broker itself: see
// Disrupt.
func DisruptVHost(t TB) string {
	t.Helper()
	return vhost(t, Disrupt(t))
}

func vhost(t TB, base string) string {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("OMP_TEST_AMQP: %v", redact.URL(base))
	}
	if _, err := exec.LookPath("rabbitmqctl"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("rabbitmqctl not found, and CI is set: .ci/rabbitmq.sh installs it with the broker")
		}
		t.Skipf("rabbitmqctl not found: a test with a vhost of its own needs it")
	}
	vhost := fmt.Sprintf("omp-test-%d-%d", os.Getpid(), seq.Add(1))
	user := u.User.Username()
	if user == "" {
		user = "guest"
	}
	Ctl(t, "add_vhost", vhost)
	t.Cleanup(func() { Ctl(t, "delete_vhost", vhost) })
	Ctl(t, "set_permissions", "-p", vhost, user, ".*", ".*", ".*")
	u.Path = "/" + vhost
	u.RawPath = ""
	return u.String()
}

// NodeEnv names the environment variable that gives the RabbitMQ node
// rabbitmqctl manages; unset, the machine's default node.
const NodeEnv = "OMP_TEST_RABBITMQ_NODE"

// Ctl runs rabbitmqctl with args, on the node of NodeEnv if set, and returns
// its output.
func Ctl(t TB, args ...string) string {
	t.Helper()
	flags := []string{"-q"}
	if n := os.Getenv(NodeEnv); n != "" {
		flags = append(flags, "-n", n)
	}
	out, err := exec.Command("rabbitmqctl", append(flags, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("rabbitmqctl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// StopBroker stops the RabbitMQ application of the test broker's node
// (rabbitmqctl stop_app), for a test that got the broker from Disrupt or
// DisruptVHost, and returns the function that starts it again. Whatever
// happens, the broker is started again when t ends, for everyone else.
func StopBroker(t TB) (start func()) {
	t.Helper()
	t.Cleanup(func() {
		args := []string{"-q", "start_app"}
		if n := os.Getenv(NodeEnv); n != "" {
			args = append(args, "-n", n)
		}
		exec.Command("rabbitmqctl", args...).Run()
	})
	Ctl(t, "stop_app")
	return func() {
		t.Helper()
		Ctl(t, "start_app")
	}
}
