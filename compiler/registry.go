package compiler

// Registry tells the compiler which task kinds exist and what they accept.
// The runtime fills one from the plugins it finds; the compiler never
// hard-codes a kind.
type Registry interface {
	// Lookup returns the kind called name (or the kind name is an alias of).
	Lookup(name string) (*KindSpec, bool)
	// Names lists every kind and alias, for "did you mean" hints.
	Names() []string
}

// KindSpec is what the compiler knows of a kind.
type KindSpec struct {
	Name    string
	Aliases []string
	Actions []ActionSpec
}

// ActionSpec declares one action of a kind. MinArgs and MaxArgs bound the
// number of positional arguments; MaxArgs < 0 means no upper bound. Kwargs
// are the keyword arguments it takes; with AnyKwargs it takes any.
type ActionSpec struct {
	Name      string
	MinArgs   int
	MaxArgs   int
	Kwargs    []string
	AnyKwargs bool
}

// Action returns the action called name, if the kind declares it.
func (k *KindSpec) Action(name string) (ActionSpec, bool) {
	for _, a := range k.Actions {
		if a.Name == name {
			return a, true
		}
	}
	return ActionSpec{}, false
}

// MapRegistry is a Registry over a fixed set of kinds.
type MapRegistry struct {
	kinds map[string]*KindSpec
}

// NewRegistry returns a registry of the given kinds and their aliases.
func NewRegistry(kinds ...KindSpec) *MapRegistry {
	r := &MapRegistry{kinds: map[string]*KindSpec{}}
	for i := range kinds {
		r.Add(kinds[i])
	}
	return r
}

// Add adds a kind (and its aliases), replacing one of the same name.
func (r *MapRegistry) Add(k KindSpec) {
	r.kinds[k.Name] = &k
	for _, a := range k.Aliases {
		r.kinds[a] = &k
	}
}

func (r *MapRegistry) Lookup(name string) (*KindSpec, bool) {
	k, ok := r.kinds[name]
	return k, ok
}

func (r *MapRegistry) Names() []string {
	names := make([]string, 0, len(r.kinds))
	for n := range r.kinds {
		names = append(names, n)
	}
	return names
}
