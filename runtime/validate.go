package runtime

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ompdev/omp/compiler"
)

func newScheduler(g *compiler.Graph, cfg *Config) (*scheduler, error) {
	if g == nil {
		return nil, errors.New("runtime: nil graph")
	}
	s := &scheduler{
		ctx:      context.Background(),
		g:        g,
		cfg:      cfg,
		pub:      cfg.Bus.Publisher(),
		clock:    time.Now,
		tasks:    make([]*task, len(g.Nodes)),
		byID:     make(map[string]*task, len(g.Nodes)),
		inflight: map[*task]struct{}{},
		labels:   map[string]*labelState{},
		workers:  map[string]*workerSeen{},
	}
	var errs []error
	// The members of a comprehension share their position, and so one
	// string: a run may have 100,000 of them.
	var pos compiler.Pos
	posText := ""
	for i, n := range g.Nodes {
		if n.Pos != pos || posText == "" {
			pos, posText = n.Pos, n.Pos.String()
		}
		t := &task{n: n, rep: &TaskReport{
			ID: n.ID, Kind: n.Kind, Name: n.Name, Action: n.Action,
			State: Pending, Pos: posText,
		}}
		switch n.Op {
		case compiler.OpTask:
			t.rep.Label = n.Label
			if t.rep.Label == "" {
				t.rep.Label = compiler.DefaultLabel
			}
			if s.labels[t.rep.Label] == nil {
				s.labels[t.rep.Label] = &labelState{}
			}
		case compiler.OpReduce:
			t.rep.Kind, t.rep.Action = "reduce", n.Reducer
			if _, ok := reducers[n.Reducer]; !ok {
				errs = append(errs, fmt.Errorf("%s: unknown reducer %q", n.Pos, n.Reducer))
			}
		default:
			errs = append(errs, fmt.Errorf("%s: node %s: unknown op %q", n.Pos, n.ID, n.Op))
		}
		if s.byID[n.ID] != nil {
			errs = append(errs, fmt.Errorf("%s: duplicate node id %s", n.Pos, n.ID))
		}
		s.tasks[i], s.byID[n.ID] = t, t
	}
	for _, t := range s.tasks {
		// Deps should hold every input already; a graph from elsewhere may
		// not, so add the missing ones (with a set: a reduce node over a
		// parallel block has thousands).
		deps := t.n.Deps
		if len(t.n.Inputs) > 0 {
			have := make(map[string]bool, len(deps))
			for _, id := range deps {
				have[id] = true
			}
			for _, in := range t.n.Inputs {
				if !have[in] {
					have[in] = true
					deps = append(slices.Clip(deps), in)
				}
			}
		}
		for _, id := range deps {
			d := s.byID[id]
			if d == nil {
				errs = append(errs, fmt.Errorf("%s: node %s depends on unknown node %s", t.n.Pos, t.n.ID, id))
				continue
			}
			d.dependents = append(d.dependents, t)
			t.waiting++
		}
	}
	for _, o := range g.Outputs {
		if s.byID[o.Node] == nil {
			errs = append(errs, fmt.Errorf("%s: output of unknown node %s", o.Pos, o.Node))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("runtime: invalid graph: %w", err)
	}
	s.counts = Counts{Total: len(s.tasks), Pending: len(s.tasks)}
	s.remaining = len(s.tasks)
	return s, nil
}
