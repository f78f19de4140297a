package main

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
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/ompdev/omp/runtime/amqpbus"
)

var vhostSeq atomic.Int64

// setupAMQP gives each testdata/script/amqp_*.txtar script a RabbitMQ vhost
// of its own in $OMP_BROKER, deleted when the script ends. The broker is
// $OMP_TEST_AMQP (default amqp://guest:guest@127.0.0.1:5672/). A script
// skips when the broker does not answer, unless CI is set: in CI that is a
// failure, since .ci/run starts RabbitMQ.
func setupAMQP(env *testscript.Env) error {
	if !strings.HasPrefix(filepath.Base(env.WorkDir), "script-amqp_") {
		return nil
	}
	base := os.Getenv("OMP_TEST_AMQP")
	if base == "" {
		base = "amqp://guest:guest@127.0.0.1:5672/"
	}
	hp := amqpbus.HostPort(base)
	c, err := net.DialTimeout("tcp", hp, 2*time.Second)
	if err != nil {
		if os.Getenv("CI") != "" {
			return fmt.Errorf("RabbitMQ at %s does not answer: %v", hp, err)
		}
		env.T().Skip(fmt.Sprintf("RabbitMQ at %s does not answer (%v): start it with bash .ci/rabbitmq.sh", hp, err))
	}
	c.Close()
	// internal/amqptest's tests that stop the broker or lower its
	// consumer_timeout take this lock exclusively; share it meanwhile.
	lock, err := os.OpenFile(filepath.Join(os.TempDir(), "omp-amqp-tests.lock"), os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return fmt.Errorf("broker lock: %v", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_SH); err != nil {
		lock.Close()
		return fmt.Errorf("broker lock: %v", err)
	}
	env.Defer(func() { lock.Close() })
	u, err := url.Parse(base)
	if err != nil {
		return fmt.Errorf("OMP_TEST_AMQP: cannot parse it")
	}
	vhost := fmt.Sprintf("omp-script-%d-%d", os.Getpid(), vhostSeq.Add(1))
	user := u.User.Username()
	if user == "" {
		user = "guest"
	}
	if err := rabbitmqctl("add_vhost", vhost); err != nil {
		return err
	}
	env.Defer(func() { rabbitmqctl("delete_vhost", vhost) })
	if err := rabbitmqctl("set_permissions", "-p", vhost, user, ".*", ".*", ".*"); err != nil {
		return err
	}
	u.Path = "/" + vhost
	u.RawPath = ""
	env.Setenv("OMP_BROKER", u.String())
	return nil
}

func rabbitmqctl(args ...string) error {
	out, err := exec.Command("rabbitmqctl", append([]string{"-q"}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("rabbitmqctl %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return nil
}
