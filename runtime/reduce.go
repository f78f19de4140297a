package runtime

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
)

// reduce computes a reduce node from its inputs' results: the list of them,
// or with spread the one list that is the only input's result.
func reduce(reducer string, spread bool, inputs []json.RawMessage) (json.RawMessage, error) {
	items := inputs
	if spread {
		if len(inputs) != 1 {
			return nil, fmt.Errorf("reduce %s: spread needs exactly one input, got %d", reducer, len(inputs))
		}
		var list []json.RawMessage
		if err := json.Unmarshal(inputs[0], &list); err != nil || list == nil {
			return nil, fmt.Errorf("reduce %s: input is %s, not a list", reducer, describe(inputs[0]))
		}
		items = list
	}
	for i, it := range items {
		if len(it) == 0 {
			items[i] = json.RawMessage("null")
		}
	}
	f, ok := reducers[reducer]
	if !ok {
		return nil, fmt.Errorf("unknown reducer %q", reducer)
	}
	res, err := f(items)
	if err != nil {
		return nil, fmt.Errorf("reduce %s: %w", reducer, err)
	}
	return res, nil
}

var reducers = map[string]func([]json.RawMessage) (json.RawMessage, error){
	"collect": func(items []json.RawMessage) (json.RawMessage, error) { return joinList(items), nil },
	"count": func(items []json.RawMessage) (json.RawMessage, error) {
		return strconv.AppendInt(nil, int64(len(items)), 10), nil
	},
	"sum": func(items []json.RawMessage) (json.RawMessage, error) {
		nums, err := numbers(items)
		if err != nil {
			return nil, err
		}
		return sum(nums), nil
	},
	"mean": func(items []json.RawMessage) (json.RawMessage, error) {
		nums, err := numbers(items)
		if err != nil {
			return nil, err
		}
		if len(nums) == 0 {
			return nil, errors.New("no values")
		}
		var s float64
		for _, n := range nums {
			s += n.f
		}
		return formatFloat(s / float64(len(nums)))
	},
	"min": func(items []json.RawMessage) (json.RawMessage, error) { return extreme(items, -1) },
	"max": func(items []json.RawMessage) (json.RawMessage, error) { return extreme(items, +1) },
	"first": func(items []json.RawMessage) (json.RawMessage, error) {
		if len(items) == 0 {
			return nil, errors.New("no values")
		}
		return items[0], nil
	},
	"last": func(items []json.RawMessage) (json.RawMessage, error) {
		if len(items) == 0 {
			return nil, errors.New("no values")
		}
		return items[len(items)-1], nil
	},
	"concat": concat,
	"merge":  merge,
}

// Reducers lists the reducers the runtime computes.
func Reducers() []string {
	names := make([]string, 0, len(reducers))
	for n := range reducers {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func joinList(items []json.RawMessage) json.RawMessage {
	n := 2
	for _, it := range items {
		n += len(it) + 1
	}
	b := make([]byte, 0, n)
	b = append(b, '[')
	for i, it := range items {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, it...)
	}
	return append(b, ']')
}

// number keeps an integer exact beside its float value, so that summing
// integers gives an integer.
type number struct {
	f     float64
	i     int64
	isInt bool
}

func numbers(items []json.RawMessage) ([]number, error) {
	nums := make([]number, len(items))
	for k, it := range items {
		it = bytes.TrimSpace(it)
		if i, err := strconv.ParseInt(string(it), 10, 64); err == nil {
			nums[k] = number{f: float64(i), i: i, isInt: true}
			continue
		}
		var f float64
		if len(it) == 0 || (it[0] != '-' && (it[0] < '0' || it[0] > '9')) || json.Unmarshal(it, &f) != nil {
			return nil, fmt.Errorf("value %d is %s, not a number", k+1, describe(it))
		}
		nums[k] = number{f: f}
	}
	return nums, nil
}

func sum(nums []number) json.RawMessage {
	var i int64
	var f float64
	exact := true
	for _, n := range nums {
		f += n.f
		if exact && n.isInt {
			s := i + n.i
			// Overflow: go on in floating point.
			if (n.i > 0 && s < i) || (n.i < 0 && s > i) {
				exact = false
			}
			i = s
		} else {
			exact = false
		}
	}
	if exact {
		return strconv.AppendInt(nil, i, 10)
	}
	b, _ := formatFloat(f)
	return b
}

func formatFloat(f float64) (json.RawMessage, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return nil, fmt.Errorf("result %v is not a JSON number", f)
	}
	return json.Marshal(f)
}

// extreme returns the smallest (dir < 0) or largest item: numbers by value,
// strings in byte order, not a mix.
func extreme(items []json.RawMessage, dir int) (json.RawMessage, error) {
	if len(items) == 0 {
		return nil, errors.New("no values")
	}
	if nums, err := numbers(items); err == nil {
		best := 0
		for k := range nums {
			if (dir < 0 && nums[k].f < nums[best].f) || (dir > 0 && nums[k].f > nums[best].f) {
				best = k
			}
		}
		return items[best], nil
	}
	strs := make([]string, len(items))
	for k, it := range items {
		if err := json.Unmarshal(it, &strs[k]); err != nil || len(bytes.TrimSpace(it)) == 0 || it[0] != '"' {
			return nil, fmt.Errorf("value %d is %s: compare numbers or strings", k+1, describe(it))
		}
	}
	best := 0
	for k := range strs {
		if (dir < 0 && strs[k] < strs[best]) || (dir > 0 && strs[k] > strs[best]) {
			best = k
		}
	}
	return items[best], nil
}

// concat flattens a list of lists by one level; a list of strings is joined.
func concat(items []json.RawMessage) (json.RawMessage, error) {
	var out []json.RawMessage
	var str []byte
	strings := len(items) > 0
	for _, it := range items {
		if t := bytes.TrimSpace(it); len(t) == 0 || t[0] != '"' {
			strings = false
			break
		}
	}
	if strings {
		var s string
		for _, it := range items {
			if err := json.Unmarshal(it, &s); err != nil {
				return nil, err
			}
			str = append(str, s...)
		}
		return json.Marshal(string(str))
	}
	for k, it := range items {
		var list []json.RawMessage
		if err := json.Unmarshal(it, &list); err != nil || list == nil {
			return nil, fmt.Errorf("value %d is %s, not a list", k+1, describe(it))
		}
		out = append(out, list...)
	}
	return joinList(out), nil
}

// merge merges maps; a later map's key wins.
func merge(items []json.RawMessage) (json.RawMessage, error) {
	m := map[string]json.RawMessage{}
	for k, it := range items {
		var one map[string]json.RawMessage
		if err := json.Unmarshal(it, &one); err != nil || one == nil {
			return nil, fmt.Errorf("value %d is %s, not a map", k+1, describe(it))
		}
		for key, v := range one {
			m[key] = v
		}
	}
	return json.Marshal(m)
}

// describe names a JSON value for an error message, shortened.
func describe(v json.RawMessage) string {
	v = bytes.TrimSpace(v)
	kind := "a value"
	if len(v) > 0 {
		switch v[0] {
		case '"':
			kind = "a string"
		case '[':
			kind = "a list"
		case '{':
			kind = "a map"
		case 't', 'f':
			kind = "a bool"
		case 'n':
			return "null"
		default:
			kind = "a number"
		}
	}
	s := string(v)
	if len(s) > 40 {
		s = s[:37] + "..."
	}
	return kind + " " + s
}
