package runtime

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"

	"github.com/ompdev/omp/compiler"
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

// reducers implements each of compiler.Reducers, by name.
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
		return sum(nums)
	},
	"mean": func(items []json.RawMessage) (json.RawMessage, error) {
		nums, err := numbers(items)
		if err != nil {
			return nil, err
		}
		if len(nums) == 0 {
			return nil, errors.New("no values")
		}
		// The mean lies between the smallest and the largest value, so it
		// is a finite float even where the sum is not.
		n := float64(len(nums))
		if s := floatSum(nums); !math.IsInf(s, 0) {
			return compiler.AppendFloat(nil, s/n)
		}
		m, _ := new(big.Float).Quo(bigSum(nums), big.NewFloat(n)).Float64()
		return compiler.AppendFloat(nil, m)
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

// sum adds nums. Integers add up exactly: an int64 overflow on the way
// does not matter, but the sum must fit in 64 bits, as omp's integers do.
// With a float among them the sum is a float, which must be finite.
func sum(nums []number) (json.RawMessage, error) {
	var i int64
	exact := true
	for _, n := range nums {
		if !n.isInt {
			exact = false
			break
		}
		s := i + n.i
		if (n.i > 0 && s < i) || (n.i < 0 && s > i) {
			return bigIntSum(nums)
		}
		i = s
	}
	if exact {
		return strconv.AppendInt(nil, i, 10), nil
	}
	f := floatSum(nums)
	if math.IsInf(f, 0) {
		// Maybe only a partial sum overflowed: [1e308, 1e308, -1e308].
		f, _ = bigSum(nums).Float64()
	}
	if math.IsInf(f, 0) {
		return nil, fmt.Errorf("the sum is beyond the largest float (%v)", math.MaxFloat64)
	}
	return compiler.AppendFloat(nil, f)
}

func bigIntSum(nums []number) (json.RawMessage, error) {
	s, v := new(big.Int), new(big.Int)
	for _, n := range nums {
		s.Add(s, v.SetInt64(n.i))
	}
	if !s.IsInt64() {
		return nil, fmt.Errorf("the sum %s does not fit in a 64-bit integer", s)
	}
	return strconv.AppendInt(nil, s.Int64(), 10), nil
}

func floatSum(nums []number) float64 {
	var f float64
	for _, n := range nums {
		f += n.f
	}
	return f
}

// bigSum adds nums without overflow: a big.Float's exponent has no float64
// limit, and 2200 bits hold any float64 exactly, whatever its exponent.
func bigSum(nums []number) *big.Float {
	s := new(big.Float).SetPrec(2200)
	v := new(big.Float).SetPrec(2200)
	for _, n := range nums {
		if n.isInt {
			v.SetInt64(n.i)
		} else {
			v.SetFloat64(n.f)
		}
		s.Add(s, v)
	}
	return s
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

// merge merges maps, shallowly: a later map's key wins, and its value
// replaces the earlier one whole (maps inside are not merged).
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
