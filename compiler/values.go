package compiler

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
)

// Values are a task's positional arguments: JSON-like values (nil, bool,
// int64, float64, string, []any, map[string]any) in which a Ref stands for
// the result of another node.
//
// A reference is a Ref, a type of its own, and never a map: whatever keys a
// literal map holds, it is data. Only the JSON form has to tell the two
// apart, and there a literal map that could be read as a reference is
// escaped; see AppendJSON.
type Values []any

// ValueMap holds named values: a task's keyword arguments, a graph's params.
type ValueMap map[string]any

// MarshalJSON writes the values as AppendJSON does.
func (vs Values) MarshalJSON() ([]byte, error) { return AppendJSON(nil, []any(vs)) }

// MarshalJSON writes the values as AppendJSON does.
func (m ValueMap) MarshalJSON() ([]byte, error) {
	if m == nil {
		return []byte("null"), nil
	}
	return AppendJSON(nil, map[string]any(m))
}

// Escape is the key of the one-key object that wraps a literal map in the
// JSON form when the map could be taken for a reference.
const Escape = "$lit"

// AppendJSON appends the JSON form of a value to b:
//   - a Ref is {"$ref": "NODE-ID"};
//   - a literal map that has a "$ref" or a "$lit" key is wrapped as
//     {"$lit": MAP}, so that a reader can tell it from a reference (and from
//     a wrapped map); the wrapped map's values are in the JSON form too;
//   - a float always reads back as a float: 2.0, never 2 (AppendFloat);
//   - map keys are sorted, and <, >, & are not escaped.
//
// A reader decodes an object with the one key "$ref" as a reference, an
// object with the one key "$lit" as the literal map it holds, and any other
// object as a map.
func AppendJSON(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	case int64:
		return strconv.AppendInt(b, x, 10), nil
	case int:
		return strconv.AppendInt(b, int64(x), 10), nil
	case float64:
		return AppendFloat(b, x)
	case string:
		return appendString(b, x), nil
	case Ref:
		b = append(b, `{"$ref":`...)
		return append(appendString(b, x.Node), '}'), nil
	case *Ref:
		return AppendJSON(b, *x)
	case Values:
		return AppendJSON(b, []any(x))
	case ValueMap:
		return AppendJSON(b, map[string]any(x))
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = AppendJSON(b, e); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	case map[string]any:
		_, ref := x["$ref"]
		_, lit := x[Escape]
		if ref || lit {
			b = append(b, `{"`+Escape+`":`...)
		}
		b = append(b, '{')
		for i, k := range slices.Sorted(maps.Keys(x)) {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(appendString(b, k), ':')
			var err error
			if b, err = AppendJSON(b, x[k]); err != nil {
				return nil, err
			}
		}
		b = append(b, '}')
		if ref || lit {
			b = append(b, '}')
		}
		return b, nil
	case json.RawMessage:
		return append(b, x...), nil
	}
	return nil, fmt.Errorf("value of type %T has no JSON form", v)
}

// AppendFloat appends f as a JSON number that reads back as a float: a
// float with an integral value gets a ".0" (2.0, 1000.0), since a kind on
// the other side (Python's json, for one) would otherwise see an integer.
// Large and small magnitudes use an exponent (1e+21), which reads as a float
// too. Infinities and NaN have no JSON form.
func AppendFloat(b []byte, f float64) ([]byte, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return nil, fmt.Errorf("%v is not a JSON number", f)
	}
	// The format encoding/json uses: plain between 1e-6 and 1e21, else an
	// exponent.
	start := len(b)
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// 1e-07, as encoding/json writes it, not 1e-007.
		if n := len(b); n-start >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
		return b, nil
	}
	if !bytes.ContainsAny(b[start:], ".e") {
		b = append(b, ".0"...)
	}
	return b, nil
}

func appendString(b []byte, s string) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return append(b, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...)
}

// AppendValue appends the JSON of an argument value (see Node), with each
// Ref replaced by what ref appends for it: the runtime appends the node's
// result, a cache key its digest. Map keys are sorted, so that equal values
// give equal bytes. A float keeps its fraction (2.0), so that a kind sees a
// float where the source has one.
func AppendValue(b []byte, v any, ref func(b []byte, node string) ([]byte, error)) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case Ref:
		return ref(b, v.Node)
	case *Ref:
		return ref(b, v.Node)
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
			if b, err = AppendValue(b, e, ref); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	case float64:
		return AppendFloat(b, v)
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
			if b, err = AppendValue(b, v[k], ref); err != nil {
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
