package main

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/ompdev/omp/internal/amqptest"
)

// setupAMQP gives each testdata/script/amqp_*.txtar script a RabbitMQ vhost
// of its own in $OMP_BROKER, deleted when the script ends, as
// internal/amqptest gives one to a Go test.
func setupAMQP(env *testscript.Env) error {
	if !strings.HasPrefix(filepath.Base(env.WorkDir), "script-amqp_") {
		return nil
	}
	env.Setenv("OMP_BROKER", amqptest.VHost(scriptTB{env}))
	return nil
}

// scriptTB is a testscript set-up as an amqptest.TB.
type scriptTB struct{ env *testscript.Env }

func (scriptTB) Helper()                             {}
func (s scriptTB) Fatalf(format string, args ...any) { s.env.T().Fatal(fmt.Sprintf(format, args...)) }
func (s scriptTB) Skipf(format string, args ...any)  { s.env.T().Skip(fmt.Sprintf(format, args...)) }
func (s scriptTB) Cleanup(f func())                  { s.env.Defer(f) }
