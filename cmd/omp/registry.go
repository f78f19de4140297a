package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/ompdev/omp/compiler"
	"github.com/ompdev/omp/plugins/builtin"
	"github.com/ompdev/omp/plugins/host"
	"github.com/ompdev/omp/plugins/sdk"
)

// hostRegistry is the compiler's registry of the kinds of the plugin host
// that will run the pipeline, so that a pipeline is checked against the
// kinds that will actually run it. It asks the host only for the kinds the
// file uses: a built-in kind is described without starting a process, and
// a third-party kind by starting its plugin, found by its file name; a
// plugin that the file does not use is never started, so a broken one
// affects only the files that use it.
type hostRegistry struct {
	ctx  context.Context
	h    *host.Host
	seen map[string]*compiler.KindSpec // nil: not a kind
	// specs are the kinds as they describe themselves, for omp lsp's
	// hover and completion.
	specs map[string]sdk.KindSpec
	errs  []error
}

var _ compiler.Registry = (*hostRegistry)(nil)

func newHostRegistry(ctx context.Context, h *host.Host) *hostRegistry {
	return &hostRegistry{ctx: ctx, h: h, seen: map[string]*compiler.KindSpec{}, specs: map[string]sdk.KindSpec{}}
}

// Lookup describes the kind called name once; a plugin that cannot start
// is remembered (see Err) and its kind reported unknown, so that the
// compiler goes on.
func (r *hostRegistry) Lookup(name string) (*compiler.KindSpec, bool) {
	if spec, ok := r.seen[name]; ok {
		return spec, spec != nil
	}
	info, err := r.h.Kind(r.ctx, name)
	if err != nil {
		var unknown *host.UnknownKindError
		if !errors.As(err, &unknown) {
			r.errs = append(r.errs, err)
		}
		// A plugin that is not what name asks for, broken or not, does
		// not turn a typo into an infrastructure failure.
		r.seen[name] = nil
		return nil, false
	}
	spec := builtin.CompilerSpec(info.Spec)
	r.seen[name] = &spec
	r.specs[name] = info.Spec
	return &spec, true
}

// Spec returns the kind called name as it describes itself, describing it
// as Lookup does.
func (r *hostRegistry) Spec(name string) (sdk.KindSpec, bool) {
	if _, ok := r.Lookup(name); !ok {
		return sdk.KindSpec{}, false
	}
	return r.specs[name], true
}

// Names are the kinds known without starting any plugin.
func (r *hostRegistry) Names() []string { return r.h.Names() }

// Err joins the errors of the plugins that the file uses and that could
// not be started or described. Compile errors that follow from them
// ("unknown kind") are not worth showing: the plugin is what to fix.
func (r *hostRegistry) Err() error { return errors.Join(r.errs...) }

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
	return newHostRegistry(c.ctx, h), nil
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
