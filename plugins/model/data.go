package model

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"gonum.org/v1/gonum/mat"

	"github.com/ompdev/omp/plugins/sdk"
	"github.com/ompdev/omp/store"
)

// table is a numeric data set: X or Y of an action.
type table struct {
	rows, cols int
	data       []float64 // row-major, rows*cols
	columns    []string  // column names; generated for inline data
	source     string    // where it came from, for the version record and errors
}

// matrix returns the table as a gonum matrix sharing its data.
func (t *table) matrix() *mat.Dense { return mat.NewDense(t.rows, t.cols, t.data) }

// vector returns the single column of a one-column table.
func (t *table) vector() []float64 { return t.data }

// dataRef records a data set used by a fit.
type dataRef struct {
	Role    string   `json:"role"`
	Source  string   `json:"source"`
	Rows    int      `json:"rows"`
	Columns []string `json:"columns"`
}

func (t *table) ref(role string) dataRef {
	return dataRef{Role: role, Source: t.source, Rows: t.rows, Columns: t.columns}
}

// datasetObject is the store object of a data set name. A name may end in
// ".csv" already.
func datasetObject(name string) string {
	return "datasets/" + strings.TrimSuffix(name, ".csv") + ".csv"
}

// loadData turns one argument of an action into a table. raw is a JSON value:
//
//   - "NAME" reads datasets/NAME.csv; "NAME:a,b" keeps columns a and b;
//   - {"dataset": "NAME", ...} does the same (the result of predict into=);
//   - [[1, 2], [3, 4]] is a list of rows; [1, 2, 3] is one column.
func loadData(ctx context.Context, st *store.Store, role string, raw json.RawMessage) (*table, error) {
	var v any
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return nil, sdk.Permanent(fmt.Errorf("%s: %w", role, err))
	}
	switch v := v.(type) {
	case string:
		return loadDataset(ctx, st, role, v)
	case map[string]any:
		if name, ok := v["dataset"].(string); ok {
			return loadDataset(ctx, st, role, name)
		}
		return nil, sdk.Permanent(fmt.Errorf("%s: an object must name a dataset (\"dataset\": \"NAME\")", role))
	case []any:
		return inlineTable(role, v)
	case nil:
		return nil, sdk.Permanent(fmt.Errorf("%s: missing: give a dataset name or a list, or pass data from upstream", role))
	default:
		return nil, sdk.Permanent(fmt.Errorf("%s: want a dataset name or a list, got %s", role, jsonKind(v)))
	}
}

func jsonKind(v any) string {
	switch v.(type) {
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case string:
		return "a string"
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

func inlineTable(role string, rows []any) (*table, error) {
	if len(rows) == 0 {
		return nil, sdk.Permanent(fmt.Errorf("%s: empty list", role))
	}
	t := &table{source: "inline", rows: len(rows)}
	if _, nested := rows[0].([]any); !nested {
		// A flat list is one column.
		t.cols = 1
		for i, c := range rows {
			f, err := inlineNumber(role, c, i+1, 1)
			if err != nil {
				return nil, err
			}
			t.data = append(t.data, f)
		}
	} else {
		for i, r := range rows {
			row, ok := r.([]any)
			if !ok {
				return nil, sdk.Permanent(fmt.Errorf("%s: row %d is %s, not a list like row 1", role, i+1, jsonKind(r)))
			}
			if i == 0 {
				t.cols = len(row)
				if t.cols == 0 {
					return nil, sdk.Permanent(fmt.Errorf("%s: row 1 is empty", role))
				}
			} else if len(row) != t.cols {
				return nil, sdk.Permanent(fmt.Errorf("%s: row %d has %d values, row 1 has %d", role, i+1, len(row), t.cols))
			}
			for j, c := range row {
				f, err := inlineNumber(role, c, i+1, j+1)
				if err != nil {
					return nil, err
				}
				t.data = append(t.data, f)
			}
		}
	}
	for j := range t.cols {
		t.columns = append(t.columns, fmt.Sprintf("x%d", j))
	}
	return t, nil
}

func inlineNumber(role string, c any, row, col int) (float64, error) {
	n, ok := c.(json.Number)
	if !ok {
		return 0, sdk.Permanent(fmt.Errorf("%s: row %d, column %d: %s is not a number", role, row, col, jsonKind(c)))
	}
	f, err := n.Float64()
	if err != nil || math.IsInf(f, 0) {
		return 0, sdk.Permanent(fmt.Errorf("%s: row %d, column %d: %s is out of range", role, row, col, n))
	}
	return f, nil
}

func loadDataset(ctx context.Context, st *store.Store, role, ref string) (*table, error) {
	name, sel, hasSel := strings.Cut(ref, ":")
	obj := datasetObject(name)
	if err := store.CheckName(obj); err != nil {
		return nil, sdk.Permanent(fmt.Errorf("%s: dataset %q: %w", role, name, err))
	}
	data, err := st.Get(ctx, obj)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			err = sdk.Permanent(err)
		}
		return nil, fmt.Errorf("%s: %w", role, err)
	}
	t, err := parseCSV(obj, data)
	if err != nil {
		return nil, sdk.Permanent(fmt.Errorf("%s: %w", role, err))
	}
	if hasSel {
		t, err = t.selectColumns(strings.Split(sel, ","))
		if err != nil {
			return nil, sdk.Permanent(fmt.Errorf("%s: %s: %w", role, obj, err))
		}
		t.source = obj + ":" + sel
	}
	return t, nil
}

// parseCSV reads a data set: a header row, then rows of numbers. Errors are
// "NAME:LINE:COL: message", LINE and COL counting from 1 with the header on
// line 1.
func parseCSV(name string, data []byte) (*table, error) {
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1 // checked below, with a better message
	r.TrimLeadingSpace = true
	header, err := r.Read()
	if err == io.EOF {
		return nil, fmt.Errorf("%s: empty file, want a header row and rows of numbers", name)
	}
	if err != nil {
		return nil, csvErr(name, err)
	}
	for j, h := range header {
		if strings.TrimSpace(h) == "" {
			_, c := r.FieldPos(j)
			return nil, fmt.Errorf("%s:1:%d: column %d has no name in the header row", name, c, j+1)
		}
	}
	t := &table{source: name, cols: len(header), columns: header}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, csvErr(name, err)
		}
		line, _ := r.FieldPos(0)
		if len(rec) == 1 && rec[0] == "" {
			continue // a blank line
		}
		if len(rec) != t.cols {
			return nil, fmt.Errorf("%s:%d: %d fields, the header has %d", name, line, len(rec), t.cols)
		}
		for j, cell := range rec {
			f, err := strconv.ParseFloat(strings.TrimSpace(cell), 64)
			if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
				l, c := r.FieldPos(j)
				what := "is not a number"
				if cell == "" {
					what = "is empty"
				} else if err == nil || errors.Is(err, strconv.ErrRange) {
					what = "is not a finite number"
				}
				return nil, fmt.Errorf("%s:%d:%d: column %q: %q %s", name, l, c, header[j], cell, what)
			}
			t.data = append(t.data, f)
		}
		t.rows++
	}
	if t.rows == 0 {
		return nil, fmt.Errorf("%s: no rows after the header", name)
	}
	return t, nil
}

func csvErr(name string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s:%d:%d: %v", name, pe.Line, pe.Column, pe.Err)
	}
	return fmt.Errorf("%s: %w", name, err)
}

func (t *table) selectColumns(names []string) (*table, error) {
	idx := make([]int, len(names))
	for i, n := range names {
		idx[i] = -1
		for j, c := range t.columns {
			if c == n {
				idx[i] = j
				break
			}
		}
		if idx[i] < 0 {
			return nil, fmt.Errorf("no column %q (have %s)", n, strings.Join(t.columns, ", "))
		}
	}
	out := &table{rows: t.rows, cols: len(idx), columns: names, source: t.source}
	out.data = make([]float64, 0, t.rows*len(idx))
	for i := range t.rows {
		for _, j := range idx {
			out.data = append(out.data, t.data[i*t.cols+j])
		}
	}
	return out, nil
}

// formatCSV writes rows (each of len(header) values) as a data set that
// parseCSV reads back exactly: numbers use the shortest form that round-trips.
func formatCSV(header []string, rows [][]float64) []byte {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Write(header)
	rec := make([]string, len(header))
	for _, r := range rows {
		for j, v := range r {
			rec[j] = strconv.FormatFloat(v, 'g', -1, 64)
		}
		w.Write(rec)
	}
	w.Flush()
	return b.Bytes()
}
