package sdk

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
)

func TestTaskHelpers(t *testing.T) {
	tk := Task{
		Kind: "k", Name: "n",
		Args:   []json.RawMessage{json.RawMessage(`"a"`), json.RawMessage(`{"x":1}`)},
		Kwargs: map[string]json.RawMessage{"n": json.RawMessage(`3`), "s": json.RawMessage(`"x"`)},
		Input:  json.RawMessage(`[1,2]`),
	}
	var s string
	if err := tk.Arg(0, &s); err != nil || s != "a" {
		t.Errorf("Arg(0) = %q, %v", s, err)
	}
	var m map[string]int
	if err := tk.Arg(1, &m); err != nil || m["x"] != 1 {
		t.Errorf("Arg(1) = %v, %v", m, err)
	}
	var n int
	if ok, err := tk.Kwarg("n", &n); !ok || err != nil || n != 3 {
		t.Errorf("Kwarg(n) = %d, %v, %v", n, ok, err)
	}
	n = 7
	if ok, err := tk.Kwarg("missing", &n); ok || err != nil || n != 7 {
		t.Errorf("Kwarg(missing) = %d, %v, %v", n, ok, err)
	}
	var in []int
	if err := tk.DecodeInput(&in); err != nil || len(in) != 2 {
		t.Errorf("DecodeInput = %v, %v", in, err)
	}
	in = []int{9}
	if err := (Task{}).DecodeInput(&in); err != nil || len(in) != 1 {
		t.Errorf("DecodeInput without input = %v, %v; want v left alone", in, err)
	}

	errs := []struct {
		name string
		err  error
		want string
	}{
		{"missing argument", tk.Arg(2, &s), "k n: argument 3 missing (have 2)"},
		{"wrong argument type", tk.Arg(0, &n), "k n: argument 1: json: cannot unmarshal string into Go value of type int"},
		{"wrong kwarg type", func() error { _, err := tk.Kwarg("s", &n); return err }(), "k n: argument s: json: cannot unmarshal string into Go value of type int"},
		{"wrong input type", tk.DecodeInput(&s), "k n: input: json: cannot unmarshal array into Go value of type string"},
	}
	for _, tc := range errs {
		t.Run(tc.name, func(t *testing.T) {
			if tc.err == nil || tc.err.Error() != tc.want {
				t.Fatalf("err = %v, want %q", tc.err, tc.want)
			}
			if !IsPermanent(tc.err) {
				t.Errorf("a malformed argument is not Permanent: %v", tc.err)
			}
		})
	}
}

// TestMarks: Permanent and Infra mark an error through wrapping and
// joining, keep its message and chain, and are independent of each other.
func TestMarks(t *testing.T) {
	marks := []struct {
		name  string
		mark  func(error) error
		is    func(error) bool
		other func(error) bool
	}{
		{"Permanent", Permanent, IsPermanent, IsInfra},
		{"Infra", Infra, IsInfra, IsPermanent},
	}
	for _, m := range marks {
		t.Run(m.name, func(t *testing.T) {
			base := errors.New("bad")
			p := m.mark(base)
			tests := []struct {
				name string
				err  error
				want bool
			}{
				{"plain", base, false},
				{"marked", p, true},
				{"wrapped", fmt.Errorf("task x: %w", p), true},
				{"joined", errors.Join(errors.New("other"), p), true},
				{"nil", nil, false},
			}
			for _, tc := range tests {
				if got := m.is(tc.err); got != tc.want {
					t.Errorf("%s: Is%s(%v) = %v, want %v", tc.name, m.name, tc.err, got, tc.want)
				}
			}
			if m.other(p) {
				t.Errorf("%s(err) carries the other mark too", m.name)
			}
			if p.Error() != "bad" || !errors.Is(p, base) {
				t.Errorf("%s(err) must keep err's message and chain: %q", m.name, p)
			}
			if m.mark(nil) != nil {
				t.Errorf("%s(nil) != nil", m.name)
			}
			if m.mark(p) != p {
				t.Errorf("%s of a marked error wraps it again", m.name)
			}
		})
	}
}

func TestReadExpand(t *testing.T) {
	task := Task{Name: "m", Args: []json.RawMessage{json.RawMessage(`"train:a,b"`), json.RawMessage(`3`)},
		Kwargs: map[string]json.RawMessage{"from": json.RawMessage(`"raw"`)}}
	tests := []struct {
		read Read
		want string
		ok   bool
	}{
		{Read{Object: "models/{name}.json"}, "models/m.json", true},
		{Read{Object: "datasets/{}*", Arg: 1, Cut: ":"}, "datasets/train*", true},
		{Read{Object: "datasets/{}*", Arg: 1}, "datasets/train:a,b*", true},
		{Read{Object: "datasets/{}", Arg: 2}, "", false}, // not a string
		{Read{Object: "datasets/{}", Arg: 3}, "", false}, // absent
		{Read{Object: "datasets/{}.csv", Kwarg: "from"}, "datasets/raw.csv", true},
		{Read{Object: "datasets/{}.csv", Kwarg: "to"}, "", false},
	}
	for _, tt := range tests {
		got, ok := tt.read.Expand(task)
		if got != tt.want || ok != tt.ok {
			t.Errorf("%+v: got %q %v, want %q %v", tt.read, got, ok, tt.want, tt.ok)
		}
	}
}
