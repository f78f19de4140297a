package compiler

import (
	"encoding/json"
	"testing"
)

// TestParamOverrides: a -p value is a literal only when it is one literal
// and nothing else, and it must fit the type of the param's declared value.
func TestParamOverrides(t *testing.T) {
	const src = `param n = 3
param r = 0.5
param s = "world"
param xs = [1]
param m = {"a": 1}
param b = false
param d = 30s
param z = null
echo a([n, r, s, xs, m, b, d, z])
`
	tests := []struct {
		name, param, value string
		want               string // the param's value as JSON, if no error
		err                string
	}{
		{"integer", "n", "5", `5`, ""},
		{"negative integer", "n", "-5", `-5`, ""},
		{"integer with spaces", "n", " 5 ", `5`, ""},
		{"float for integer", "n", "2.5", "", `input.omp: -p n: param n is an integer, not a float "2.5"`},
		{"empty for integer", "n", "", "", `input.omp: -p n: param n is an integer, not a string ""`},
		{"word for integer", "n", "abc", "", `input.omp: -p n: param n is an integer, not a string "abc"`},
		{"comment makes a string", "n", "1 #1 fan", "", `input.omp: -p n: param n is an integer, not a string "1 #1 fan"`},
		{"null for integer", "n", "null", "", `input.omp: -p n: param n is an integer, not null`},
		{"float", "r", "2.5", `2.5`, ""},
		{"integer for float", "r", "2", `2`, ""},
		{"string for float", "r", "x", "", `input.omp: -p r: param r is a float, not a string "x"`},
		{"word for string", "s", "hello", `"hello"`, ""},
		{"quoted string", "s", `"quoted"`, `"quoted"`, ""},
		{"number for string", "s", "5", `"5"`, ""},
		{"list text for string", "s", "[a,b]", `"[a,b]"`, ""},
		{"comment is kept", "s", "1 #1 fan", `"1 #1 fan"`, ""},
		{"comment after string is kept", "s", `"issue" #42`, `"\"issue\" #42"`, ""},
		{"# in a string literal", "s", `"a#b"`, `"a#b"`, ""},
		{"list", "xs", "[1, 2]", `[1,2]`, ""},
		{"list with comment", "xs", "[1, 2] # more", "", `input.omp: -p xs: param xs is a list, not a string "[1, 2] # more"`},
		{"names in a list", "xs", "[a,b]", "", `input.omp: -p xs: param xs is a list, not a string "[a,b]"`},
		{"integer for list", "xs", "1", "", `input.omp: -p xs: param xs is a list, not an integer "1"`},
		{"map", "m", `{"b": 2}`, `{"b":2}`, ""},
		{"list for map", "m", `[1]`, "", `input.omp: -p m: param m is a map, not a list "[1]"`},
		{"bool", "b", "true", `true`, ""},
		{"word for bool", "b", "yes", "", `input.omp: -p b: param b is a bool, not a string "yes"`},
		{"duration", "d", "5m", `"5m"`, ""},
		{"integer for duration", "d", "5", "", `input.omp: -p d: param d is a duration, not an integer "5"`},
		{"anything for null", "z", "[1, x]", `"[1, x]"`, ""},
		{"long value is cut", "n", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "", `input.omp: -p n: param n is an integer, not a string "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"...`},
		{"space in name", "n ", "5", "", `input.omp: -p "n ": no param "n " is declared (did you mean n?)`},
		{"undeclared", "q", "5", "", `input.omp: -p q: no param q is declared`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, err := compileSrc(t, "input.omp", src, map[string]string{tc.param: tc.value}, "")
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("got error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.param == "r" {
				if _, ok := g.Params["r"].(float64); !ok {
					t.Errorf("-p r=%s: got %T, want a float", tc.value, g.Params["r"])
				}
			}
			got, err := json.Marshal(g.Params[tc.param])
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("-p %s=%s: got %s, want %s", tc.param, tc.value, got, tc.want)
			}
		})
	}
}
