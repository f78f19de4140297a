// Package kinds is the compiler's view of a plugin host: a
// compiler.Registry that describes the kinds the host will run, shared by
// every command and by omp serve so that they check a pipeline alike.
package kinds

import (
	"context"
	"errors"

	"github.com/ompdev/omp/compiler"
	"github.com/ompdev/omp/plugins/builtin"
	"github.com/ompdev/omp/plugins/host"
	"github.com/ompdev/omp/plugins/sdk"
)

// Registry is the compiler's registry of the kinds of the plugin host
// that will run the pipeline, so that a pipeline is checked against the
// kinds that will actually run it. It asks the host only for the kinds the
// file uses: a built-in kind is described without starting a process, and
// a third-party kind by starting its plugin, found by its file name; a
// plugin that the file does not use is never started, so a broken one
// affects only the files that use it.
type Registry struct {
	ctx  context.Context
	h    *host.Host
	seen map[string]*compiler.KindSpec // nil: not a kind
	// specs are the kinds as they describe themselves, for omp lsp's
	// hover and completion.
	specs map[string]sdk.KindSpec
	errs  []error
}

var _ compiler.Registry = (*Registry)(nil)

func New(ctx context.Context, h *host.Host) *Registry {
	return &Registry{ctx: ctx, h: h, seen: map[string]*compiler.KindSpec{}, specs: map[string]sdk.KindSpec{}}
}

// Lookup describes the kind called name once; a plugin that cannot start
// is remembered (see Err) and its kind reported unknown, so that the
// compiler goes on.
func (r *Registry) Lookup(name string) (*compiler.KindSpec, bool) {
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
func (r *Registry) Spec(name string) (sdk.KindSpec, bool) {
	if _, ok := r.Lookup(name); !ok {
		return sdk.KindSpec{}, false
	}
	return r.specs[name], true
}

// Names are the kinds known without starting any plugin.
func (r *Registry) Names() []string { return r.h.Names() }

// Err joins the errors of the plugins that the file uses and that could
// not be started or described. Compile errors that follow from them
// ("unknown kind") are not worth showing: the plugin is what to fix.
func (r *Registry) Err() error { return errors.Join(r.errs...) }

// ErrsSince returns the errors after the first n, and how many there are:
// a registry shared by several files remembers the failures of all, and
// only the new ones concern the file just compiled.
func (r *Registry) ErrsSince(n int) ([]error, int) { return r.errs[n:], len(r.errs) }
