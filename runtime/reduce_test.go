package runtime

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ompdev/omp/compiler"
)

func TestReduce(t *testing.T) {
	tests := []struct {
		reducer string
		spread  bool
		inputs  string // JSON list of the inputs' results
		want    string // result, or "error: ..."
	}{
		{"collect", false, `[1,"a",null,{"k":[1]}]`, `[1,"a",null,{"k":[1]}]`},
		{"collect", false, `[]`, `[]`},
		{"count", false, `[1,2,3]`, `3`},
		{"count", true, `[[1,2,3,4]]`, `4`},
		{"sum", false, `[1,2,3]`, `6`},
		{"sum", false, `[]`, `0`},
		{"sum", false, `[1,0.5]`, `1.5`},
		{"sum", false, `[0.5,1.5]`, `2.0`}, // a float sum stays a float
		{"sum", false, `[9223372036854775807,1]`, `error: reduce sum: the sum 9223372036854775808 does not fit in a 64-bit integer`},
		{"sum", false, `[-9223372036854775808,-1]`, `error: reduce sum: the sum -9223372036854775809 does not fit in a 64-bit integer`},
		{"sum", false, `[9223372036854775807,1,-2]`, `9223372036854775806`}, // exact past an overflow on the way
		{"sum", false, `[1e308,1e308]`, `error: reduce sum: the sum is beyond the largest float (1.7976931348623157e+308)`},
		{"sum", false, `[-1e308,-1e308]`, `error: reduce sum: the sum is beyond the largest float (1.7976931348623157e+308)`},
		{"sum", false, `[1e308,1e308,-1e308]`, `1e+308`},
		{"sum", false, `[1,"2"]`, `error: reduce sum: value 2 is a string "2", not a number`},
		{"sum", false, `[null]`, `error: reduce sum: value 1 is null, not a number`},
		{"mean", false, `[1,2]`, `1.5`},
		{"mean", false, `[]`, `error: reduce mean: no values`},
		{"mean", false, `[1,3]`, `2.0`},
		{"mean", false, `[1e308,1e308]`, `1e+308`},
		{"mean", false, `[1.7976931348623157e308,1.7976931348623157e308,1.7976931348623157e308]`, `1.7976931348623157e+308`},
		{"mean", false, `[9223372036854775807,9223372036854775807]`, `9223372036854776000.0`}, // a float
		{"mean", true, `[[]]`, `error: reduce mean: no values`},
		{"min", false, `[3,-1,2]`, `-1`},
		{"max", false, `[3,-1,2.5]`, `3`},
		{"max", false, `["pear","apple"]`, `"pear"`},
		{"max", false, `[1,"a"]`, `error: reduce max: value 1 is a number 1: compare numbers or strings`},
		{"min", false, `[]`, `error: reduce min: no values`},
		{"max", false, `[]`, `error: reduce max: no values`},
		{"min", false, `["b","a","c"]`, `"a"`},
		{"min", false, `["b","B","é","a"]`, `"B"`}, // bytes: upper case first
		{"max", false, `["b","é","z"]`, `"é"`},     // bytes: UTF-8 above ASCII
		{"min", false, `[2,1.5,3]`, `1.5`},
		{"min", false, `["a",null]`, `error: reduce min: value 2 is null: compare numbers or strings`},
		{"first", false, `[]`, `error: reduce first: no values`},
		{"count", false, `[]`, `0`},
		{"count", true, `[[]]`, `0`},
		{"sum", true, `[[]]`, `0`},
		{"concat", false, `[]`, `[]`},
		{"concat", true, `[[]]`, `[]`},
		{"merge", false, `[]`, `{}`},
		{"merge", true, `[[]]`, `{}`},
		{"merge", false, `[{"a":{"x":1},"b":1},{"a":{"y":2}}]`, `{"a":{"y":2},"b":1}`}, // shallow
		{"concat", false, `[[1],[2,[3]],[]]`, `[1,2,[3]]`},
		{"concat", false, `["ab","c"]`, `"abc"`},
		{"concat", false, `[[1],2]`, `error: reduce concat: value 2 is a number 2, not a list`},
		{"concat", true, `[[[1],[2]]]`, `[1,2]`},
		{"merge", false, `[{"a":1,"b":1},{"b":2,"c":3}]`, `{"a":1,"b":2,"c":3}`},
		{"merge", false, `[{"a":1},[1]]`, `error: reduce merge: value 2 is a list [1], not a map`},
		{"first", false, `[1,2]`, `1`},
		{"last", false, `[1,2]`, `2`},
		{"last", false, `[]`, `error: reduce last: no values`},
		{"count", true, `[{"a":1}]`, `error: reduce count: input is a map {"a":1}, not a list`},
		{"count", true, `[null]`, `error: reduce count: input is null, not a list`},
		{"sum", false, `["` + strings.Repeat("x", 60) + `"]`, `error: reduce sum: value 1 is a string "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx..., not a number`},
	}
	for _, tc := range tests {
		t.Run(tc.reducer+" "+tc.inputs, func(t *testing.T) {
			var inputs []json.RawMessage
			if err := json.Unmarshal([]byte(tc.inputs), &inputs); err != nil {
				t.Fatal(err)
			}
			res, err := reduce(tc.reducer, tc.spread, inputs)
			got := string(res)
			if err != nil {
				got = "error: " + err.Error()
			}
			if got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

// TestReducersAreTheLanguagesReducers: the runtime computes every reducer
// that the compiler accepts, and no other.
func TestReducersAreTheLanguagesReducers(t *testing.T) {
	for _, name := range compiler.Reducers() {
		if _, ok := reducers[name]; !ok {
			t.Errorf("the compiler accepts reducer %s, which the runtime does not compute", name)
		}
	}
	for name := range reducers {
		if !compiler.IsReducer(name) {
			t.Errorf("the runtime computes reducer %s, which the compiler does not accept", name)
		}
	}
}
