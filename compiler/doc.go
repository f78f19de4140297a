// Package compiler turns a parsed .omp file into a Graph of tasks and
// reducers that the runtime executes.
//
// Compile resolves every name (params, loop variables, let bindings),
// expands comprehensions and name interpolation, applies block labels and
// options to the tasks inside, and checks kinds, actions and arity against a
// Registry. It checks what it compiles, the selected pipeline block and
// what stands outside the blocks, and Check checks every block. Both report
// every problem they find, as a lang.ErrorList sorted by position, not just
// the first.
//
// After a successful Compile: every node's Inputs and Deps name nodes of the
// graph that come before it in Graph.Nodes (so the graph is acyclic and
// topologically ordered); node IDs are unique, made of [a-z0-9._-] only, and
// the same for the same source and params; every task node has a kind known
// to the registry, an action the kind declares, a positional argument count
// the action accepts, a label, and a name that stays inside the store.
package compiler
