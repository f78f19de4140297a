package model

import (
	"slices"
	"testing"
)

func TestParseCSV(t *testing.T) {
	tab, err := parseCSV("datasets/d.csv", []byte("a, b\n1, 2.5\n\n-3e2,1E1\n"))
	if err != nil {
		t.Fatal(err)
	}
	// Leading spaces are trimmed, blank lines skipped, and numbers are
	// whatever strconv.ParseFloat reads.
	if !slices.Equal(tab.columns, []string{"a", "b"}) || tab.rows != 2 || !slices.Equal(tab.data, []float64{1, 2.5, -300, 10}) {
		t.Errorf("parsed %+v", tab)
	}
	sel, err := tab.selectColumns([]string{"b", "a"})
	if err != nil || !slices.Equal(sel.data, []float64{2.5, 1, 10, -300}) {
		t.Errorf("selectColumns(b, a) = %+v, %v", sel, err)
	}
}

// FuzzParseCSV checks that no input makes the parser panic, and that what
// it accepts survives formatCSV and parseCSV unchanged.
func FuzzParseCSV(f *testing.F) {
	for _, seed := range []string{
		"x,y\n1,2\n3,4\n",
		"a\n1e308\n-0\n",
		"a,b\n1,\n",
		"\"a\",\"b\"\n\"1\",\"2\"\n",
		"a\n\"1\n",
		"a,b\n1,2,3\n",
		"",
		"a\n",
		"a\nNaN\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tab, err := parseCSV("f.csv", data)
		if err != nil {
			return
		}
		if len(tab.data) != tab.rows*tab.cols || tab.rows == 0 {
			t.Fatalf("table shape %d×%d with %d values", tab.rows, tab.cols, len(tab.data))
		}
		rows := make([][]float64, tab.rows)
		for i := range rows {
			rows[i] = tab.data[i*tab.cols : (i+1)*tab.cols]
		}
		again, err := parseCSV("g.csv", formatCSV(tab.columns, rows))
		if err != nil {
			t.Fatalf("formatted table does not parse: %v", err)
		}
		if !slices.Equal(again.data, tab.data) || again.rows != tab.rows {
			t.Fatalf("round trip changed the data: %v -> %v", tab.data, again.data)
		}
	})
}
