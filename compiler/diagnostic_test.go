package compiler

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/ompdev/omp/lang"
)

func TestDiagnostics(t *testing.T) {
	tests := []struct {
		name, src string
		want      string
	}{
		{"did you mean", "jbo a()\necho b() @gpu -> reduce summ",
			`[{"file":"d.omp","line":1,"column":1,"end_column":4,"severity":"error","message":"unknown kind jbo (did you mean job?)","suggestion":"job"},` +
				`{"file":"d.omp","line":2,"column":25,"end_column":29,"severity":"error","message":"unknown reducer summ (did you mean sum?)","suggestion":"sum"}]`},
		{"no hint", "echo a(x)",
			`[{"file":"d.omp","line":1,"column":8,"end_column":9,"severity":"error","message":"undefined: x"}]`},
		{"syntax error at the end of the file", "echo a(",
			`[{"file":"d.omp","line":1,"column":8,"severity":"error","message":"expected a value or \")\", found end of file"}]`},
		{"not an ErrorList", "", `[{"file":"d.omp","line":0,"column":0,"severity":"error","message":"boom"}]`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.src == "" {
				err = errors.New("boom")
			} else if f, perr := lang.Parse("d.omp", []byte(tc.src)); perr != nil {
				err = perr
			} else {
				err = Check(f, Config{Registry: testRegistry()})
			}
			got, jerr := json.Marshal(Diagnostics("d.omp", []byte(tc.src), err))
			if jerr != nil {
				t.Fatal(jerr)
			}
			if string(got) != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
	if d := Diagnostics("d.omp", nil, nil); d != nil {
		t.Errorf("Diagnostics of no error = %v", d)
	}
}
