package runtime

import (
	"fmt"

	"github.com/ompdev/omp/compiler"
)

// appendValue appends the JSON of an argument value, with each Ref replaced
// by the result of the node it names.
func (s *scheduler) appendValue(b []byte, v any) ([]byte, error) {
	return compiler.AppendValue(b, v, s.appendResult)
}

func (s *scheduler) appendResult(b []byte, id string) ([]byte, error) {
	t := s.byID[id]
	if t == nil || !t.rep.State.Succeeded() {
		return nil, fmt.Errorf("reference to %s, which has no result", id)
	}
	if len(t.result) == 0 {
		return append(b, "null"...), nil
	}
	return append(b, t.result...), nil
}
