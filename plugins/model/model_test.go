package model

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/ompdev/omp/plugins/sdk"
)

// The textbook data set x = 1..5, y = 2,4,5,4,5: by hand, slope
// Sxy/Sxx = 6/10, intercept ȳ − slope·x̄ = 4 − 0.6·3 = 2.2, residuals
// −0.8, 0.6, 1, −0.6, −0.2, so R² = 1 − 2.4/6 = 0.6.
var textbook = map[string]string{
	"models/lin.json":   `{"type": "linear-regression"}`,
	"models/ridge.json": `{"type": "ridge", "params": {"alpha": 1}}`,
	"datasets/x.csv":    "x\n1\n2\n3\n4\n5\n",
	"datasets/y.csv":    "y\n2\n4\n5\n4\n5\n",
}

func TestLinearRegressionTextbook(t *testing.T) {
	dir := newStore(t, textbook)
	res, e := run(t, task(dir, "lin", "fit", []any{"x", "y"}, nil))
	fr := res.(map[string]any)
	if fr["model"] != "lin" || fr["metric"] != "r2" || fr["rows"] != 5.0 {
		t.Errorf("fit result = %v", fr)
	}
	if s := fr["score"].(float64); !near(s, 0.6, 1e-12) {
		t.Errorf("training score = %.17g, want 0.6", s)
	}
	if m := e.metrics["train_r2"]; !near(m, 0.6, 1e-12) {
		t.Errorf("metric train_r2 = %v, want 0.6 (metrics %v)", m, e.metrics)
	}
	v := fr["version"].(string)
	if len(e.logs) != 1 || e.logs[0] != "lin: fitted version "+v+" on 5 rows: training r2 = 0.6" {
		t.Errorf("logs = %q", e.logs)
	}

	rec := readVersion(t, dir, "lin", v)
	var f linearFit
	if err := json.Unmarshal(rec.Fitted, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Coef) != 1 || !near(f.Coef[0], 0.6, 1e-12) || !near(f.Intercept, 2.2, 1e-12) {
		t.Errorf("fitted = %+v, want coef [0.6] intercept 2.2", f)
	}
	if rec.Type != "linear-regression" || rec.Target != "y" || !slices.Equal(rec.Features, []string{"x"}) {
		t.Errorf("record = %+v", rec)
	}
	wantData := []dataRef{
		{Role: "X", Source: "datasets/x.csv", Rows: 5, Columns: []string{"x"}},
		{Role: "Y", Source: "datasets/y.csv", Rows: 5, Columns: []string{"y"}},
	}
	if fmt.Sprint(rec.Data) != fmt.Sprint(wantData) {
		t.Errorf("data = %v, want %v", rec.Data, wantData)
	}
	if rec.FittedAt.IsZero() || rec.Score.Metric != "r2" || !near(*rec.Score.Value, 0.6, 1e-12) {
		t.Errorf("fitted_at %v, score %+v", rec.FittedAt, rec.Score)
	}

	res, _ = run(t, task(dir, "lin", "predict", []any{[]any{6, 0}}, nil))
	if p := floatsOf(t, res); len(p) != 2 || !near(p[0], 2.2+0.6*6, 1e-12) || !near(p[1], 2.2, 1e-12) {
		t.Errorf("predict = %v, want [5.8 2.2]", p)
	}
	res, e = run(t, task(dir, "lin", "score", []any{"x", "y"}, nil))
	if s := res.(float64); !near(s, 0.6, 1e-12) || !near(e.metrics["r2"], 0.6, 1e-12) {
		t.Errorf("score = %v (metric %v), want 0.6", s, e.metrics)
	}
}

func TestLinearRegressionExact(t *testing.T) {
	// y = 1 + 2a − 3b + 0.5c exactly, on rows that are not collinear.
	rows := [][]float64{{1, 0, 2}, {0, 1, -1}, {2, 3, 0}, {-1, 2, 5}, {4, -2, 1}, {3, 3, 3}, {0.5, -1.5, 2.5}}
	var y []float64
	for _, r := range rows {
		y = append(y, 1+2*r[0]-3*r[1]+0.5*r[2])
	}
	dir := newStore(t, map[string]string{"models/lin.json": `{"type": "linear-regression"}`})
	res, _ := run(t, task(dir, "lin", "fit", []any{rows, y}, nil))
	rec := readVersion(t, dir, "lin", res.(map[string]any)["version"].(string))
	var f linearFit
	json.Unmarshal(rec.Fitted, &f)
	for j, want := range []float64{2, -3, 0.5} {
		if !near(f.Coef[j], want, 1e-9) {
			t.Errorf("coef[%d] = %.17g, want %g", j, f.Coef[j], want)
		}
	}
	if !near(f.Intercept, 1, 1e-9) || f.Rank != 3 {
		t.Errorf("intercept = %.17g rank %d, want 1 and 3", f.Intercept, f.Rank)
	}
	if s := *rec.Score.Value; !near(s, 1, 1e-12) {
		t.Errorf("R² = %.17g, want 1", s)
	}
	if rec.Data[0].Source != "inline" || !slices.Equal(rec.Features, []string{"x0", "x1", "x2"}) {
		t.Errorf("inline data recorded as %+v, features %v", rec.Data, rec.Features)
	}
}

func TestLinearRegressionRankDeficient(t *testing.T) {
	// Two identical columns: the minimum-norm solution of y = 2a + 1 splits
	// the slope equally, as numpy.linalg.lstsq does.
	dir := newStore(t, map[string]string{
		"models/lin.json": `{"type": "linear-regression"}`,
		"datasets/d.csv":  "a,a2,y\n1,1,3\n2,2,5\n3,3,7\n5,5,11\n",
	})
	res, _ := run(t, task(dir, "lin", "fit", []any{"d:a,a2", "d:y"}, nil))
	rec := readVersion(t, dir, "lin", res.(map[string]any)["version"].(string))
	var f linearFit
	json.Unmarshal(rec.Fitted, &f)
	if !near(f.Coef[0], 1, 1e-9) || !near(f.Coef[1], 1, 1e-9) || !near(f.Intercept, 1, 1e-9) || f.Rank != 1 {
		t.Errorf("fitted = %+v, want coef [1 1] intercept 1 rank 1", f)
	}
	if rec.Data[0].Source != "datasets/d.csv:a,a2" || rec.Target != "y" {
		t.Errorf("column selection recorded as %+v, target %q", rec.Data, rec.Target)
	}
}

func TestRidge(t *testing.T) {
	t.Run("one feature", func(t *testing.T) {
		// Closed form with centring: w = Sxy/(Sxx+α) = 6/11, b = ȳ − w·x̄ = 26/11.
		dir := newStore(t, textbook)
		res, _ := run(t, task(dir, "ridge", "fit", []any{"x", "y"}, nil))
		rec := readVersion(t, dir, "ridge", res.(map[string]any)["version"].(string))
		var f linearFit
		json.Unmarshal(rec.Fitted, &f)
		if !near(f.Coef[0], 6.0/11, 1e-12) || !near(f.Intercept, 26.0/11, 1e-12) {
			t.Errorf("fitted = %+v, want coef 6/11 intercept 26/11", f)
		}
		var params bytes.Buffer
		json.Compact(&params, rec.Params)
		if params.String() != `{"fit_intercept":true,"alpha":1}` {
			t.Errorf("params = %s", rec.Params)
		}
	})
	t.Run("two features", func(t *testing.T) {
		a := []float64{1, 2, 4, 3, 7, 5}
		b := []float64{2, 1, 0, 5, 3, 8}
		y := []float64{3, 1, 4, 1, 5, 9}
		const alpha = 2.5
		// Independent solution: centred sums and Cramer's rule on the 2×2
		// system (S + αI) w = s.
		mean := func(v []float64) float64 {
			var s float64
			for _, x := range v {
				s += x
			}
			return s / float64(len(v))
		}
		ma, mb, my := mean(a), mean(b), mean(y)
		var saa, sab, sbb, say, sby float64
		for i := range a {
			da, db, dy := a[i]-ma, b[i]-mb, y[i]-my
			saa += da * da
			sab += da * db
			sbb += db * db
			say += da * dy
			sby += db * dy
		}
		det := (saa+alpha)*(sbb+alpha) - sab*sab
		wa := (say*(sbb+alpha) - sab*sby) / det
		wb := ((saa+alpha)*sby - sab*say) / det
		b0 := my - wa*ma - wb*mb

		var rows [][]float64
		for i := range a {
			rows = append(rows, []float64{a[i], b[i]})
		}
		dir := newStore(t, map[string]string{"models/r.json": `{"type": "ridge", "params": {"alpha": 2.5}}`})
		res, _ := run(t, task(dir, "r", "fit", []any{rows, y}, nil))
		rec := readVersion(t, dir, "r", res.(map[string]any)["version"].(string))
		var f linearFit
		json.Unmarshal(rec.Fitted, &f)
		if !near(f.Coef[0], wa, 1e-9) || !near(f.Coef[1], wb, 1e-9) || !near(f.Intercept, b0, 1e-9) {
			t.Errorf("fitted = %+v, want coef [%g %g] intercept %g", f, wa, wb, b0)
		}
		// The training score is R² of the fitted line, computed here.
		var ssr, sst float64
		for i := range a {
			p := b0 + wa*a[i] + wb*b[i]
			ssr += (y[i] - p) * (y[i] - p)
			sst += (y[i] - my) * (y[i] - my)
		}
		if s := *rec.Score.Value; !near(s, 1-ssr/sst, 1e-9) {
			t.Errorf("training R² = %.17g, want %.17g", s, 1-ssr/sst)
		}
	})
	t.Run("no intercept", func(t *testing.T) {
		// Without an intercept: w = Σxy/(Σx²+α) = 66/(55+1).
		files := maps(textbook, "models/ridge.json", `{"type": "ridge", "params": {"alpha": 1, "fit_intercept": false}}`)
		dir := newStore(t, files)
		res, _ := run(t, task(dir, "ridge", "fit", []any{"x", "y"}, nil))
		rec := readVersion(t, dir, "ridge", res.(map[string]any)["version"].(string))
		var f linearFit
		json.Unmarshal(rec.Fitted, &f)
		if !near(f.Coef[0], 66.0/56, 1e-12) || f.Intercept != 0 {
			t.Errorf("fitted = %+v, want coef 66/56 intercept 0", f)
		}
	})
}

// maps returns a copy of m with key set to v.
func maps(m map[string]string, key, v string) map[string]string {
	out := map[string]string{key: v}
	for k, x := range m {
		if k != key {
			out[k] = x
		}
	}
	return out
}

func TestLogisticRegressionOneFeature(t *testing.T) {
	// x = +1 (class 1) and −1 (class 0), no intercept: the objective is
	// 2C·log(1+e^−w) + w²/2, whose minimum solves w = 2C·σ(−w). Bisection
	// finds it independently of the optimiser.
	const c = 1.5
	lo, hi := 0.0, 2*c
	for range 200 {
		mid := (lo + hi) / 2
		if mid-2*c/(1+math.Exp(mid)) > 0 {
			hi = mid
		} else {
			lo = mid
		}
	}
	dir := newStore(t, map[string]string{
		"models/log.json": `{"type": "logistic-regression", "params": {"C": 1.5, "fit_intercept": false}}`,
	})
	res, e := run(t, task(dir, "log", "fit", []any{[]any{1, -1}, []any{1, 0}}, nil))
	rec := readVersion(t, dir, "log", res.(map[string]any)["version"].(string))
	var f logisticFit
	json.Unmarshal(rec.Fitted, &f)
	if !near(f.Coef[0][0], lo, 1e-7) || f.Intercept[0] != 0 || !f.Converged {
		t.Errorf("fitted = %+v, want coef %.12g", f, lo)
	}
	if !slices.Equal(f.Classes, []float64{0, 1}) || e.metrics["train_accuracy"] != 1 {
		t.Errorf("classes %v, train_accuracy %v", f.Classes, e.metrics)
	}
}

// logisticGradient is the gradient of C·Σ loss + ½‖W‖², written out
// element by element for the test, independently of logObjective.
func logisticGradient(x [][]float64, y []float64, f logisticFit, c float64) (gw [][]float64, gb []float64) {
	k := len(f.Coef)
	gw = make([][]float64, k)
	for r := range gw {
		gw[r] = slices.Clone(f.Coef[r]) // the penalty's gradient
	}
	gb = make([]float64, k)
	for i, row := range x {
		z := make([]float64, k)
		for r := range k {
			z[r] = f.Intercept[r]
			for j, v := range row {
				z[r] += f.Coef[r][j] * v
			}
		}
		resid := make([]float64, k)
		if k == 1 {
			t := 0.0
			if y[i] == f.Classes[1] {
				t = 1
			}
			resid[0] = 1/(1+math.Exp(-z[0])) - t
		} else {
			var sum float64
			for r := range k {
				sum += math.Exp(z[r])
			}
			for r := range k {
				resid[r] = math.Exp(z[r]) / sum
				if y[i] == f.Classes[r] {
					resid[r]--
				}
			}
		}
		for r := range k {
			gb[r] += c * resid[r]
			for j, v := range row {
				gw[r][j] += c * resid[r] * v
			}
		}
	}
	return gw, gb
}

func TestLogisticRegressionOptimality(t *testing.T) {
	// Labels 0,0,1,0,1,1 on x = 1..6 are antisymmetric about 3.5, so the
	// optimal boundary is x = 3.5 and the accuracy 4/6.
	binaryX := [][]float64{{1}, {2}, {3}, {4}, {5}, {6}}
	binaryY := []float64{0, 0, 1, 0, 1, 1}
	// Two features, classes separable by a + b = 3.
	twoX := [][]float64{{0.5, 1}, {1, 0.2}, {1.5, 2}, {2, 0.5}, {2.5, 3}, {0, 2}, {3.5, 2.5}, {4, 1.5}}
	twoY := []float64{0, 0, 1, 0, 1, 0, 1, 1}
	threeX := [][]float64{{0, 0}, {0.5, 1}, {1, 0.5}, {4, 4}, {4.5, 3}, {3, 4.5}, {0, 4}, {1, 5}, {0.5, 3.5}, {2, 2}}
	threeY := []float64{2, 2, 2, 5, 5, 5, 7, 7, 7, 5}
	tests := []struct {
		name   string
		x      [][]float64
		y      []float64
		c      float64
		coefs  int
		wantAc float64
	}{
		{"binary", binaryX, binaryY, 1, 1, 4.0 / 6},
		{"binary weak penalty", binaryX, binaryY, 100, 1, 4.0 / 6},
		{"two features", twoX, twoY, 10, 1, 1},
		{"three classes", threeX, threeY, 1, 3, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := newStore(t, map[string]string{
				"models/log.json": fmt.Sprintf(`{"type": "logistic-regression", "params": {"C": %g}}`, tc.c),
			})
			res, _ := run(t, task(dir, "log", "fit", []any{tc.x, tc.y}, nil))
			fr := res.(map[string]any)
			rec := readVersion(t, dir, "log", fr["version"].(string))
			var f logisticFit
			json.Unmarshal(rec.Fitted, &f)
			if len(f.Coef) != tc.coefs || !f.Converged {
				t.Fatalf("fitted = %+v, want %d coefficient rows, converged", f, tc.coefs)
			}
			// At the optimum of a convex objective the gradient vanishes.
			gw, gb := logisticGradient(tc.x, tc.y, f, tc.c)
			for r := range gw {
				for j := range gw[r] {
					if math.Abs(gw[r][j]) > 1e-6*tc.c*float64(len(tc.x)) {
						t.Errorf("gradient w[%d][%d] = %g at the fitted coefficients", r, j, gw[r][j])
					}
				}
				if math.Abs(gb[r]) > 1e-6*tc.c*float64(len(tc.x)) {
					t.Errorf("gradient b[%d] = %g at the fitted coefficients", r, gb[r])
				}
			}
			// Training accuracy, recomputed from predict.
			res, _ = run(t, task(dir, "log", "predict", []any{tc.x}, nil))
			pred := floatsOf(t, res)
			right := 0
			for i := range pred {
				if !slices.Contains(f.Classes, pred[i]) {
					t.Errorf("prediction %v is not a class of %v", pred[i], f.Classes)
				}
				if pred[i] == tc.y[i] {
					right++
				}
			}
			acc := float64(right) / float64(len(pred))
			if acc != tc.wantAc || fr["score"] != acc || fr["metric"] != "accuracy" {
				t.Errorf("accuracy from predict %v, fit score %v %v; want %v", acc, fr["metric"], fr["score"], tc.wantAc)
			}
		})
	}
}

func TestKMeans(t *testing.T) {
	// Two unit squares far apart: the centres are the squares' centres, the
	// inertia 8 × (0.5² + 0.5²) = 4.
	rows := [][]float64{{10, 10}, {0, 0}, {10, 11}, {0, 1}, {11, 10}, {1, 0}, {11, 11}, {1, 1}}
	dir := newStore(t, map[string]string{
		"models/km.json": `{"type": "kmeans", "params": {"n_clusters": 2, "random_state": 7}}`,
	})
	res, e := run(t, task(dir, "km", "fit", []any{rows}, nil))
	fr := res.(map[string]any)
	if fr["metric"] != "neg_inertia" || !near(fr["score"].(float64), -4, 1e-12) || !near(e.metrics["train_neg_inertia"], -4, 1e-12) {
		t.Errorf("fit = %v, metrics %v", fr, e.metrics)
	}
	rec := readVersion(t, dir, "km", fr["version"].(string))
	var f kmeansFit
	json.Unmarshal(rec.Fitted, &f)
	want := [][]float64{{0.5, 0.5}, {10.5, 10.5}}
	for c := range want {
		for j := range want[c] {
			if !near(f.Centers[c][j], want[c][j], 1e-12) {
				t.Errorf("centres = %v, want %v", f.Centers, want)
			}
		}
	}
	if rec.Target != "" || len(rec.Data) != 1 {
		t.Errorf("an unsupervised fit recorded target %q, data %v", rec.Target, rec.Data)
	}
	res, _ = run(t, task(dir, "km", "predict", []any{[][]float64{{0, 0.2}, {12, 12}, {5, 5}}}, nil))
	if p := floatsOf(t, res); !slices.Equal(p, []float64{0, 1, 0}) {
		t.Errorf("predict = %v, want [0 1 0]", p)
	}
	res, _ = run(t, task(dir, "km", "transform", []any{[][]float64{{0.5, 0.5}, {3.5, 4.5}}}, nil))
	got := res.([]any)
	wantT := [][]float64{{0, math.Sqrt(200)}, {5, math.Sqrt(49 + 36)}}
	for i := range wantT {
		r := floatsOf(t, got[i])
		for j := range wantT[i] {
			if !near(r[j], wantT[i][j], 1e-12) {
				t.Errorf("transform row %d = %v, want %v", i, r, wantT[i])
			}
		}
	}
	res, _ = run(t, task(dir, "km", "score", []any{[][]float64{{0, 0}, {10, 12}}}, nil))
	// (0,0) is 0.5² + 0.5² from its centre, (10,12) 0.5² + 1.5².
	if s := res.(float64); !near(s, -(0.5 + 2.5), 1e-12) {
		t.Errorf("score = %v, want -3", s)
	}
}

func TestVersions(t *testing.T) {
	dir := newStore(t, map[string]string{"models/lin.json": `{"type": "linear-regression", "params": {"fit_intercept": false}}`})
	x := []any{1, 2, 3}
	res, _ := run(t, task(dir, "lin", "fit", []any{x, []any{2, 4, 6}}, nil))
	v1 := res.(map[string]any)["version"].(string)
	res, _ = run(t, task(dir, "lin", "fit", []any{x, []any{3, 6, 9}}, nil))
	v2 := res.(map[string]any)["version"].(string)
	if !(v1 < v2) {
		t.Fatalf("versions %q then %q do not sort in fit order", v1, v2)
	}
	predict := func(tk sdk.Task) float64 {
		res, _ := run(t, tk)
		return floatsOf(t, res)[0]
	}
	if p := predict(task(dir, "lin", "predict", []any{[]any{1}}, nil)); !near(p, 3, 1e-12) {
		t.Errorf("latest predicts %v, want 3", p)
	}
	if p := predict(task(dir, "lin", "predict", []any{[]any{1}}, map[string]any{"version": v1})); !near(p, 2, 1e-12) {
		t.Errorf("version=%s predicts %v, want 2", v1, p)
	}
	// A unique prefix names a version too.
	if p := predict(task(dir, "lin", "predict", []any{[]any{1}}, map[string]any{"version": v2[:len(v2)-3]})); !near(p, 3, 1e-12) {
		t.Errorf("a prefix of %s predicts %v, want 3", v2, p)
	}
	// Downstream of a fit, predict uses the version that fit stored.
	tk := task(dir, "lin", "predict", []any{[]any{1}}, nil)
	tk.Input, _ = json.Marshal(FitResult{Model: "lin", Version: v1, Metric: "r2", Rows: 3})
	if p := predict(tk); !near(p, 2, 1e-12) {
		t.Errorf("after the fit of %s, predict gives %v, want 2", v1, p)
	}
	err := runErr(t, task(dir, "lin", "predict", []any{[]any{1}}, map[string]any{"version": "1999"}))
	if want := `model lin.predict: lin has no version "1999" (latest is ` + v2 + `)`; err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
}

func TestParallelFits(t *testing.T) {
	dir := newStore(t, map[string]string{"models/lin.json": `{"type": "ridge"}`})
	const n = 8
	versions := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			e := &emitter{}
			res, err := Kind{}.Run(context.Background(), task(dir, "lin", "fit", []any{[]any{1, 2, 3, 4}, []any{1, 3, 2, float64(i)}}, nil), e)
			if err != nil {
				t.Error(err)
				return
			}
			versions[i] = res.(FitResult).Version
		})
	}
	wg.Wait()
	ents, err := os.ReadDir(filepath.Join(dir, "models", "lin"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != n {
		t.Fatalf("models/lin holds %d files after %d parallel fits, want %d", len(ents), n, n)
	}
	seen := map[string]bool{}
	for i, v := range versions {
		if seen[v] {
			t.Errorf("version %s stored twice", v)
		}
		seen[v] = true
		// Each record is whole and belongs to its own fit.
		rec := readVersion(t, dir, "lin", v)
		if rec.Version != v || rec.Data[1].Rows != 4 {
			t.Errorf("record %s = %+v", v, rec)
		}
		var f linearFit
		json.Unmarshal(rec.Fitted, &f)
		// Ridge α=1 on x=1..4 (Sxx=5): w = Sxy/6 with y = 1,3,2,i.
		sxy := -1.5*1 - 0.5*3 + 0.5*2 + 1.5*float64(i)
		if !near(f.Coef[0], sxy/6, 1e-12) {
			t.Errorf("version %s has coef %v, want %v for fit %d", v, f.Coef, sxy/6, i)
		}
	}
}

func TestPredictInto(t *testing.T) {
	dir := newStore(t, textbook)
	run(t, task(dir, "lin", "fit", []any{"x", "y"}, nil))
	res, e := run(t, task(dir, "lin", "predict", []any{"x"}, map[string]any{"into": "pred"}))
	if fmt.Sprint(res) != "map[dataset:pred rows:5]" {
		t.Errorf("predict into = %v", res)
	}
	got, err := os.ReadFile(filepath.Join(dir, "datasets", "pred.csv"))
	if err != nil {
		t.Fatal(err)
	}
	// 2.2 + 0.6x, in the shortest form that reads back exactly.
	tab, err := parseCSV("pred.csv", got)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(tab.columns, []string{"y"}) || tab.rows != 5 {
		t.Errorf("pred.csv = %q", got)
	}
	for i, p := range tab.data {
		if !near(p, 2.2+0.6*float64(i+1), 1e-12) {
			t.Errorf("row %d = %v", i+1, p)
		}
	}
	if len(e.logs) != 1 || e.logs[0] != "lin: wrote 5 rows to datasets/pred.csv" {
		t.Errorf("logs = %q", e.logs)
	}
	// The dataset result is X for a task downstream.
	tk := task(dir, "lin", "predict", nil, nil)
	tk.Input, _ = json.Marshal(res)
	res, _ = run(t, tk)
	for i, p := range floatsOf(t, res) {
		if want := 2.2 + 0.6*(2.2+0.6*float64(i+1)); !near(p, want, 1e-12) {
			t.Errorf("predict on datasets/pred.csv: row %d = %v, want %v", i+1, p, want)
		}
	}
}

func TestInputs(t *testing.T) {
	dir := newStore(t, textbook)
	// X and Y from an upstream {"X", "Y"} object.
	tk := task(dir, "lin", "fit", nil, nil)
	tk.Input = json.RawMessage(`{"X": "x", "Y": [2, 4, 5, 4, 5]}`)
	res, _ := run(t, tk)
	if s := res.(map[string]any)["score"].(float64); !near(s, 0.6, 1e-12) {
		t.Errorf("fit from input: score %v", s)
	}
	// Y from upstream when X is given.
	tk = task(dir, "lin", "score", []any{"x"}, nil)
	tk.Input = json.RawMessage(`"y"`)
	res, _ = run(t, tk)
	if s := res.(float64); !near(s, 0.6, 1e-12) {
		t.Errorf("score with Y from input = %v", s)
	}
	// X from upstream: a list of rows.
	tk = task(dir, "lin", "predict", nil, nil)
	tk.Input = json.RawMessage(`[[10], [20]]`)
	res, _ = run(t, tk)
	if p := floatsOf(t, res); !near(p[0], 8.2, 1e-12) || !near(p[1], 14.2, 1e-12) {
		t.Errorf("predict from input = %v", p)
	}
}
