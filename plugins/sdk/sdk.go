// Package sdk is what a task kind is written against: the built-in kinds and
// every third-party kind alike. A kind implements Kind and its main function
// calls Serve; the plugin host in package host starts it as a separate process
// and calls it over gRPC (hashicorp/go-plugin), which this package hides.
//
// The SDK imports nothing of omp: a kind depends on this package alone.
package sdk

import (
	"context"
	"encoding/json"
	"time"
)

// Kind is a task kind.
//
// Run may be called concurrently, for different tasks, by one plugin process:
// a kind that keeps state guards it. Run must return when ctx is done.
type Kind interface {
	Describe() KindSpec
	Run(ctx context.Context, t Task, e Emitter) (any, error)
}

// KindSpec describes a kind to the compiler and to `omp plugins`.
type KindSpec struct {
	Name        string       `json:"name"`
	Aliases     []string     `json:"aliases,omitempty"`
	Description string       `json:"description,omitempty"`
	Actions     []ActionSpec `json:"actions"`
	// Version is the kind's version, part of every cache key of its
	// tasks: a new version makes resume run them again. Empty: the
	// runner uses the digest of the plugin's executable (or, for a
	// built-in kind, omp's version), which changes with every build.
	Version string `json:"version,omitempty"`
}

// ActionSpec declares one action. MinArgs and MaxArgs bound the positional
// arguments; MaxArgs < 0 means no upper bound. Args names them for help
// texts. Kwargs lists the keyword arguments the action takes: the compiler
// rejects any other, so that a misspelt one is an error rather than ignored,
// unless AnyKwargs is set (a script or a notebook takes whatever it is
// given).
type ActionSpec struct {
	Name      string   `json:"name"`
	MinArgs   int      `json:"min_args"`
	MaxArgs   int      `json:"max_args"`
	Args      []string `json:"args,omitempty"`
	Kwargs    []string `json:"kwargs,omitempty"`
	AnyKwargs bool     `json:"any_kwargs,omitempty"`
	Doc       string   `json:"doc,omitempty"`
	// Reads are the store objects a task of the action reads. Their
	// contents are part of the task's cache key, so that resume runs the
	// task again when one changes. Declare every object the result
	// depends on: one left out is a stale result reused.
	Reads []Read `json:"reads,omitempty"`
	// NoCache marks an action whose result depends on more than its
	// arguments, input and Reads (a clock, the network): resume always
	// runs it.
	NoCache bool `json:"no_cache,omitempty"`
}

// Read names store objects that a task reads. Object is a name in which
// {name} stands for the task's name and {} for the string value of the
// positional argument Arg (1-based) or of the keyword argument Kwarg, cut
// before the first Cut when Cut is set. A trailing "*" stands for the
// object itself or any object whose name goes on with "." or "/" after it:
// "scripts/{name}*" is scripts/prep, scripts/prep.py and scripts/prep/main.py
// for the task prep, not scripts/prepare.
//
// A Read whose argument is absent or not a string names nothing: the
// argument's value is part of the key anyway.
type Read struct {
	Object string `json:"object"`
	Arg    int    `json:"arg,omitempty"`
	Kwarg  string `json:"kwarg,omitempty"`
	Cut    string `json:"cut,omitempty"`
}

// Task is one attempt at one task, as the kind receives it.
//
// Args, Kwargs and Input are JSON values; decode them with the Arg, Kwarg and
// DecodeInput helpers or by hand.
type Task struct {
	RunID   string `json:"run_id"`
	TaskID  string `json:"task_id"`
	Attempt int    `json:"attempt"` // 1-based
	Kind    string `json:"kind"`
	Name    string `json:"name"`
	Action  string `json:"action"`

	Args   []json.RawMessage          `json:"args,omitempty"`
	Kwargs map[string]json.RawMessage `json:"kwargs,omitempty"`
	// Input is the upstream result, or null.
	Input json.RawMessage `json:"input,omitempty"`

	Label string `json:"label,omitempty"`
	// Store is where named objects (scripts/, jobs/, datasets/, models/,
	// results/) live: a directory or a gocloud.dev/blob URL.
	Store string `json:"store,omitempty"`
	// Deadline is when the attempt times out; zero means none. ctx carries
	// it too.
	Deadline time.Time `json:"deadline,omitzero"`
}

// Emitter sends what a task reports while it runs back to the runner. Its
// methods are safe for concurrent use and never block for long.
type Emitter interface {
	Log(line string)
	Metric(name string, value float64, step int)
	Progress(done, total int)
}
