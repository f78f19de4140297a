package runtimetest

import (
	"fmt"
	"slices"
	"time"

	"github.com/ompdev/omp/compiler"
)

// Graph builds a compiler.Graph by hand, as the compiler would emit it, so the
// suite tests the runtime without depending on the language.
type Graph struct {
	G *compiler.Graph
}

// NewGraph starts an empty graph.
func NewGraph() *Graph {
	return &Graph{G: &compiler.Graph{File: "test.omp", Params: map[string]any{}}}
}

// TaskOpt changes a task node.
type TaskOpt func(*compiler.Node)

// Retries sets the retries and backoff options.
func Retries(n int, backoff time.Duration) TaskOpt {
	return func(nd *compiler.Node) { nd.Opts.Retries, nd.Opts.Backoff = n, backoff }
}

// Timeout sets the timeout option.
func Timeout(d time.Duration) TaskOpt {
	return func(nd *compiler.Node) { nd.Opts.Timeout = d }
}

// Label sets the label.
func Label(l string) TaskOpt {
	return func(nd *compiler.Node) { nd.Label = l }
}

// Kw sets a keyword argument.
func Kw(k string, v any) TaskOpt {
	return func(nd *compiler.Node) {
		if nd.Kwargs == nil {
			nd.Kwargs = map[string]any{}
		}
		nd.Kwargs[k] = v
	}
}

// Input makes the result of node id the task's input.
func Input(id string) TaskOpt {
	return func(nd *compiler.Node) { nd.Inputs = []string{id} }
}

// Echo adds `echo NAME(args...)` and returns its id. Args may hold
// compiler.Ref values, also nested in lists and maps.
func (b *Graph) Echo(name string, args []any, opts ...TaskOpt) string {
	n := &compiler.Node{
		ID: fmt.Sprintf("n%d", len(b.G.Nodes)), Op: compiler.OpTask,
		Kind: "echo", Name: name, Action: "run", Args: args,
		Pos: compiler.Pos{File: "test.omp", Line: len(b.G.Nodes) + 1, Column: 1},
	}
	for _, o := range opts {
		o(n)
	}
	return b.add(n)
}

// Reduce adds a reduce node over inputs and returns its id.
func (b *Graph) Reduce(reducer string, spread bool, inputs ...string) string {
	return b.add(&compiler.Node{
		ID: fmt.Sprintf("n%d", len(b.G.Nodes)), Op: compiler.OpReduce,
		Reducer: reducer, Spread: spread, Inputs: inputs,
		Pos: compiler.Pos{File: "test.omp", Line: len(b.G.Nodes) + 1, Column: 1},
	})
}

// Out makes node id a top-level statement's result.
func (b *Graph) Out(id string) {
	b.G.Outputs = append(b.G.Outputs, compiler.Output{Node: id, Pos: b.G.Node(id).Pos})
}

func (b *Graph) add(n *compiler.Node) string {
	deps := slices.Clone(n.Inputs)
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case compiler.Ref:
			deps = append(deps, v.Node)
		case []any:
			for _, e := range v {
				walk(e)
			}
		case map[string]any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	for _, a := range n.Args {
		walk(a)
	}
	for _, a := range n.Kwargs {
		walk(a)
	}
	slices.Sort(deps)
	n.Deps = slices.Compact(deps)
	b.G.Nodes = append(b.G.Nodes, n)
	return n.ID
}

// Ref refers to node id's result inside an argument.
func Ref(id string) compiler.Ref { return compiler.Ref{Node: id} }
