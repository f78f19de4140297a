package main

import (
	"context"
	"fmt"
	"io"

	"github.com/ompdev/omp/compiler"
	"github.com/ompdev/omp/internal/kinds"
	"github.com/ompdev/omp/plugins/builtin"
	"github.com/ompdev/omp/plugins/host"
)

// compileKinds gives load the registry of a plugin host of its own, for the
// commands that compile a file without running it. The host is created
// only when the file parsed; close stops the plugins it started.
type compileKinds struct {
	ctx      context.Context
	warnings io.Writer
	h        *host.Host
}

func (c *compileKinds) registry() (compiler.Registry, error) {
	h, err := host.New(host.Config{Builtins: builtin.Kinds(), Warnings: c.warnings})
	if err != nil {
		return nil, err
	}
	c.h = h
	return kinds.New(c.ctx, h), nil
}

func (c *compileKinds) close() {
	if c.h != nil {
		c.h.Close()
	}
}

// reportInfra prints each of the errors that err joins as a line of its own,
// and ends the process with ExitInfra.
func reportInfra(s *streams, err error) error {
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	for _, e := range errs {
		fmt.Fprintf(s.err, "omp: %v\n", e)
	}
	return reported(ExitInfra)
}

// hostRegistry is the kinds of the host that will run a pipeline.
type hostRegistry = kinds.Registry

func newHostRegistry(ctx context.Context, h *host.Host) *hostRegistry { return kinds.New(ctx, h) }
