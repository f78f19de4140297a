package lang

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"
)

var update = flag.Bool("update", false, "rewrite the golden files of TestFormatGolden")

// TestFormatGolden formats the in.omp of each testdata/format/*.txtar and
// compares the result with its out.omp; -update rewrites out.omp.
func TestFormatGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/format/*.txtar")
	if len(files) == 0 {
		t.Fatal("no golden files")
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			ar, err := txtar.ParseFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var in []byte
			out := -1
			for i, f := range ar.Files {
				switch f.Name {
				case "in.omp":
					in = f.Data
				case "out.omp":
					out = i
				}
			}
			got, err := Format(in, "in.omp")
			if err != nil {
				t.Fatal(err)
			}
			f, _ := Parse("in.omp", in)
			checkFormatted(t, f, got)
			if *update {
				if out < 0 {
					ar.Files = append(ar.Files, txtar.File{Name: "out.omp"})
					out = len(ar.Files) - 1
				}
				ar.Files[out].Data = got
				if err := os.WriteFile(file, txtar.Format(ar), 0o666); err != nil {
					t.Fatal(err)
				}
				return
			}
			if out < 0 {
				t.Fatal("no out.omp: run with -update")
			}
			if want := ar.Files[out].Data; !bytes.Equal(got, want) {
				t.Errorf("got\n%s\nwant\n%s", got, want)
			}
		})
	}
}
