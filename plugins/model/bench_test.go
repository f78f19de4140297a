package model

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/ompdev/omp/plugins/sdk"
	"github.com/ompdev/omp/store"
)

// benchData is n rows of p features with a linear target and a 3-class label.
func benchData(n, p int) (x, y, labels *table) {
	rng := rand.New(rand.NewPCG(1, 2))
	x = &table{rows: n, cols: p}
	y = &table{rows: n, cols: 1}
	labels = &table{rows: n, cols: 1}
	for range n {
		var s float64
		for j := range p {
			v := rng.NormFloat64()
			x.data = append(x.data, v)
			s += float64(j+1) * v
		}
		y.data = append(y.data, s+rng.NormFloat64())
		c := 0.0
		if s > 1 {
			c = 2
		} else if s > -1 {
			c = 1
		}
		labels.data = append(labels.data, c)
	}
	return x, y, labels
}

func BenchmarkFit(b *testing.B) {
	x, y, labels := benchData(1000, 5)
	for _, tc := range []struct {
		name string
		y    *table
	}{
		{"linear-regression", y}, {"ridge", y}, {"logistic-regression", labels}, {"kmeans", nil},
	} {
		b.Run(tc.name+"/1000x5", func(b *testing.B) {
			for b.Loop() {
				est := goTypes[tc.name]()
				if err := est.fit(context.Background(), x, tc.y); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRun measures whole tasks against a directory store: reading the
// CSV data sets, fitting or predicting, writing the version.
func BenchmarkRun(b *testing.B) {
	x, y, _ := benchData(1000, 5)
	var xrows [][]float64
	for i := range x.rows {
		xrows = append(xrows, x.data[i*x.cols:(i+1)*x.cols])
	}
	cols := []string{"a", "b", "c", "d", "e"}
	// Each fit adds a version, and predict lists the versions to find the
	// latest: predict runs against a store with one version, and with the
	// versions that the fit benchmark left.
	newDir := func() string {
		dir := b.TempDir()
		st, err := openStoreAt(dir)
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		ctx := context.Background()
		var yrows [][]float64
		for _, v := range y.data {
			yrows = append(yrows, []float64{v})
		}
		for name, data := range map[string][]byte{
			"datasets/x.csv":  formatCSV(cols, xrows),
			"datasets/y.csv":  formatCSV([]string{"y"}, yrows),
			"models/lin.json": []byte(`{"type": "linear-regression"}`),
		} {
			if err := st.Put(ctx, name, data); err != nil {
				b.Fatal(err)
			}
		}
		return dir
	}
	ctx := context.Background()
	e := &emitter{}
	runTask := func(b *testing.B, tk sdk.Task) {
		for b.Loop() {
			if _, err := (Kind{}).Run(ctx, tk, e); err != nil {
				b.Fatal(err)
			}
		}
	}
	one := newDir()
	if _, err := (Kind{}).Run(ctx, task(one, "lin", "fit", []any{"x", "y"}, nil), e); err != nil {
		b.Fatal(err)
	}
	b.Run("predict/linear-regression/1000x5/1-version", func(b *testing.B) {
		runTask(b, task(one, "lin", "predict", []any{"x"}, nil))
	})
	many := newDir()
	b.Run("fit/linear-regression/1000x5", func(b *testing.B) {
		runTask(b, task(many, "lin", "fit", []any{"x", "y"}, nil))
	})
	vs, _ := versions(ctx, mustOpen(b, many), "lin")
	b.Run(fmt.Sprintf("predict/linear-regression/1000x5/%d-versions", len(vs)), func(b *testing.B) {
		runTask(b, task(many, "lin", "predict", []any{"x"}, nil))
	})
}

func mustOpen(b *testing.B, dir string) *store.Store {
	st, err := openStoreAt(dir)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return st
}
