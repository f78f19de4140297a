package runtime

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"

	"github.com/ompdev/omp/compiler"
)

// appendValue appends the JSON of an argument value, with each Ref replaced
// by the result of the node it names. A float keeps its fraction (2.0), so
// that a kind sees a float where the source has one.
func (s *scheduler) appendValue(b []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case compiler.Ref:
		return s.appendResult(b, v.Node)
	case *compiler.Ref:
		return s.appendResult(b, v.Node)
	case bool:
		return strconv.AppendBool(b, v), nil
	case int64:
		return strconv.AppendInt(b, v, 10), nil
	case int:
		return strconv.AppendInt(b, int64(v), 10), nil
	case json.RawMessage:
		return append(b, v...), nil
	case []any:
		b = append(b, '[')
		for i, e := range v {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = s.appendValue(b, e); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	case float64:
		return compiler.AppendFloat(b, v)
	case map[string]any:
		// Only a compiler.Ref is a reference: a literal map is data, whatever
		// its keys, and goes to the task as written.
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			kb, _ := json.Marshal(k)
			b = append(append(b, kb...), ':')
			var err error
			if b, err = s.appendValue(b, v[k]); err != nil {
				return nil, err
			}
		}
		return append(b, '}'), nil
	default:
		j, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		return append(b, j...), nil
	}
}

func (s *scheduler) appendResult(b []byte, id string) ([]byte, error) {
	t := s.byID[id]
	if t == nil || t.state != Success {
		return nil, fmt.Errorf("reference to %s, which has no result", id)
	}
	if len(t.result) == 0 {
		return append(b, "null"...), nil
	}
	return append(b, t.result...), nil
}
