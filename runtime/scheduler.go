package runtime

import (
	"context"
	"errors"

	"github.com/ompdev/omp/compiler"
)

type scheduler struct{}

func newScheduler(g *compiler.Graph, cfg *Config) (*scheduler, error) {
	return &scheduler{}, nil
}

func (s *scheduler) run(ctx context.Context) (*Report, error) {
	return nil, errors.New("runtime: Run: not implemented yet")
}
