package compiler

import (
	"fmt"
	"time"
)

// Graph is a compiled pipeline: the contract between the compiler and the
// runtime. Nodes are in a topological order (every node comes after the nodes
// it depends on), so a scheduler may walk them front to back.
type Graph struct {
	// File is the .omp file the graph was compiled from, as given.
	File string `json:"file"`
	// Pipeline is the name of the `pipeline NAME { }` block that was
	// compiled, or "" for a file without blocks.
	Pipeline string `json:"pipeline,omitempty"`
	// Params are the parameter values in force, after -p overrides.
	Params ValueMap `json:"params"`
	// Nodes are all nodes, topologically ordered.
	Nodes []*Node `json:"nodes"`
	// Outputs has one entry per top-level statement, in source order: the
	// node whose result is that statement's result.
	Outputs []Output `json:"outputs"`
	// Blocks are the blocks of the source, in source order (an outer
	// block before the blocks inside it), each once however many times a
	// comprehension repeats it. For progress displays; not part of the
	// graph's JSON form.
	Blocks []Block `json:"-"`
}

// Block is one parallel, sequence or mapreduce block of the source.
type Block struct {
	Kind string
	Pos  Pos
	// Text is the block as lang.Format prints it, on one line.
	Text string
	// Stmt is the top-level statement the block is in, as an index into
	// Graph.Outputs.
	Stmt int
	// Parent is the block this one is inside, as 1 + its index in
	// Graph.Blocks, or 0 for a block directly in the statement.
	Parent int
}

// Loop is the value of a comprehension's variable for the members that one
// iteration generates, with the loops around it in Outer. The members of
// an iteration share one Loop.
type Loop struct {
	Var   string
	Value any
	Outer *Loop
}

// Output names the node whose result is one top-level statement's result.
type Output struct {
	Node string `json:"node"`
	Pos  Pos    `json:"pos"`
	// Let is the name the statement binds, or "" for a bare statement.
	Let string `json:"let,omitempty"`
	// Text is the statement as lang.Format prints it, on one line, for
	// progress displays; not part of the graph's JSON form.
	Text string `json:"-"`
}

// Op says what a node does.
type Op string

const (
	// OpTask runs a task of a kind served by a plugin.
	OpTask Op = "task"
	// OpReduce combines the results of its inputs with a built-in reducer,
	// computed by the runtime itself.
	OpReduce Op = "reduce"
)

// Node is one unit of work in the graph.
//
// The value a node receives as its input is:
//   - a task node: the result of Inputs[0] when it has one input, else null
//     (a task node never has more than one input; a parallel block that
//     feeds a task is gathered by a `collect` reduce node first);
//   - a reduce node: the list of the results of Inputs, in order; when Spread
//     is set there is exactly one input, whose result must itself be a list,
//     and that list is reduced.
//
// Args and Kwargs are JSON-like values (nil, bool, int64, float64, string,
// []any, map[string]any) in which a Ref stands for the result of another
// node; the runtime substitutes it before the task runs.
type Node struct {
	ID string `json:"id"`
	Op Op     `json:"op"`

	// Task fields (Op == OpTask).
	Kind   string   `json:"kind,omitempty"`
	Name   string   `json:"name,omitempty"`
	Action string   `json:"action,omitempty"`
	Args   Values   `json:"args,omitempty"`
	Kwargs ValueMap `json:"kwargs,omitempty"`
	Label  string   `json:"label,omitempty"`
	Opts   Options  `json:"options"`

	// Reducer is the built-in reducer of a reduce node: collect, sum, count,
	// min, max, mean, concat, merge, first, last.
	Reducer string `json:"reducer,omitempty"`
	Spread  bool   `json:"spread,omitempty"`

	// Inputs are the nodes whose results form this node's input.
	Inputs []string `json:"inputs,omitempty"`
	// Deps are every node this node waits for: its Inputs and every node a
	// Ref in its Args or Kwargs names, without duplicates, sorted.
	Deps []string `json:"deps,omitempty"`

	// Pos is where the node was written, for errors at run time.
	Pos Pos `json:"pos"`

	// Where the node is, for progress displays (not in the JSON form): the
	// statement, as an index into Graph.Outputs; the innermost block, as 1 +
	// its index in Graph.Blocks (0: none); and for a member of a
	// comprehension, the loop values that generated it (innermost first).
	// Block and Loop are set on task nodes.
	Stmt  int   `json:"-"`
	Block int   `json:"-"`
	Loop  *Loop `json:"-"`
}

// Ref stands, inside a node's Args or Kwargs, for the result of node Node.
// Only the compiler makes one, for a let name: a literal map, a param or a
// task result that looks like {"$ref": "ID"} is data like any other. In the
// JSON form a Ref is written {"$ref": "NODE-ID"} (see Values).
type Ref struct {
	Node string `json:"$ref"`
}

// Options are a task's execution options.
type Options struct {
	Retries int           `json:"retries,omitempty"`
	Timeout time.Duration `json:"timeout,omitempty"`
	Backoff time.Duration `json:"backoff,omitempty"`
	// NoCache (`with cache=false`) makes the task run on resume even
	// when a task of the resumed run has its cache key.
	NoCache bool `json:"no_cache,omitempty"`
}

// Pos is a position in a source file.
type Pos struct {
	File   string `json:"file"`
	Line   int    `json:"line"`
	Column int    `json:"col"`
}

func (p Pos) String() string {
	if p.File == "" {
		return fmt.Sprintf("%d:%d", p.Line, p.Column)
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Column)
}

// Node returns the node with the given id, or nil.
func (g *Graph) Node(id string) *Node {
	for _, n := range g.Nodes {
		if n.ID == id {
			return n
		}
	}
	return nil
}
