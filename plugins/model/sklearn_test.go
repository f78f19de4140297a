package model

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ompdev/omp/plugins/sdk"
)

// withSklearn points OMP_PYTHON at a Python that has scikit-learn: the one
// in $OMP_PYTHON, else Debian's /usr/bin/python3 (python3-sklearn). Without
// it the test is skipped, except in CI, which installs it and must run these.
func withSklearn(t *testing.T) string {
	t.Helper()
	py := os.Getenv("OMP_PYTHON")
	if py == "" {
		py = "/usr/bin/python3"
	}
	cmd := exec.Command(py, "-c", "import sklearn")
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput()
	if err != nil {
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		msg := "cannot import sklearn with " + py + ": " + lines[len(lines)-1]
		if os.Getenv("CI") != "" {
			t.Fatal(msg + " (CI is set, so the sklearn tests must run: apt-get install python3-sklearn)")
		}
		t.Skip(msg + "; skipping the sklearn tests (apt-get install python3-sklearn, or set OMP_PYTHON)")
	}
	t.Setenv("OMP_PYTHON", py)
	return py
}

func fittedAttrs(t *testing.T, dir, model, v string) (*version, map[string]any) {
	t.Helper()
	rec := readVersion(t, dir, model, v)
	var attrs map[string]any
	if err := json.Unmarshal(rec.Fitted, &attrs); err != nil {
		t.Fatal(err)
	}
	return rec, attrs
}

func TestSklearnLinearRegression(t *testing.T) {
	withSklearn(t)
	dir := newStore(t, maps(textbook, "models/sk.json", `{"type": "sklearn", "class": "sklearn.linear_model.LinearRegression"}`))
	res, e := run(t, task(dir, "sk", "fit", []any{"x", "y"}, nil))
	fr := res.(map[string]any)
	if fr["metric"] != "r2" || !near(fr["score"].(float64), 0.6, 1e-12) || !near(e.metrics["train_r2"], 0.6, 1e-12) {
		t.Errorf("fit = %v, metrics %v", fr, e.metrics)
	}
	v := fr["version"].(string)
	rec, attrs := fittedAttrs(t, dir, "sk", v)
	if !near(attrs["coef_"].([]any)[0].(float64), 0.6, 1e-12) || !near(attrs["intercept_"].(float64), 2.2, 1e-12) {
		t.Errorf("fitted attributes = %v, want coef_ [0.6] intercept_ 2.2", attrs)
	}
	if rec.Class != "sklearn.linear_model.LinearRegression" || rec.SklearnVersion == "" || rec.Pickle != "models/sk/"+v+".pkl" {
		t.Errorf("record = %+v", rec)
	}
	if fi, err := os.Stat(filepath.Join(dir, "models", "sk", v+".pkl")); err != nil || fi.Size() == 0 {
		t.Errorf("pickled estimator: %v", err)
	}
	res, _ = run(t, task(dir, "sk", "predict", []any{[]any{6, 0}}, nil))
	if p := floatsOf(t, res); !near(p[0], 5.8, 1e-12) || !near(p[1], 2.2, 1e-12) {
		t.Errorf("predict = %v, want [5.8 2.2]", p)
	}
	res, e = run(t, task(dir, "sk", "score", []any{"x", "y"}, nil))
	if s := res.(float64); !near(s, 0.6, 1e-12) || !near(e.metrics["r2"], 0.6, 1e-12) {
		t.Errorf("score = %v, metrics %v", s, e.metrics)
	}
	res, _ = run(t, task(dir, "sk", "predict", []any{"x"}, map[string]any{"into": "p"}))
	if fr := res.(map[string]any); fr["dataset"] != "p" || fr["rows"] != 5.0 {
		t.Errorf("predict into = %v", fr)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "datasets", "p.csv")); !strings.HasPrefix(string(got), "y\n2.8") {
		t.Errorf("datasets/p.csv = %q", got)
	}
}

// TestSklearnMatchesGo fits the same data with a Go model and its
// scikit-learn counterpart: the two implementations are independent, and
// minimise the same objectives. Ridge is a closed form on both sides; for
// logistic regression scipy's L-BFGS-B under scikit-learn also stops when the
// objective's relative decrease falls under ~2e-9 (its ftol, which
// scikit-learn does not expose), so the two agree to about 1e-5, and the
// test checks that the Go optimum is the more exact one.
func TestSklearnMatchesGo(t *testing.T) {
	withSklearn(t)
	x := [][]float64{{0.5, 1}, {1, 0.2}, {1.5, 2}, {2, 0.5}, {2.5, 3}, {0, 2}, {3.5, 2.5}, {4, 1.5}, {2, 2}, {1, 3}}
	tests := []struct {
		name, goDecl, skDecl string
		y                    []float64
		tol                  float64
	}{
		{"ridge", `{"type": "ridge", "params": {"alpha": 2.5}}`,
			`{"type": "sklearn", "class": "sklearn.linear_model.Ridge", "params": {"alpha": 2.5}}`,
			[]float64{3, 1, 4, 1, 5, 9, 2, 6, 5, 3}, 1e-9},
		{"binary logistic", `{"type": "logistic-regression", "params": {"C": 0.7}}`,
			`{"type": "sklearn", "class": "sklearn.linear_model.LogisticRegression", "params": {"C": 0.7, "tol": 1e-12, "max_iter": 10000}}`,
			[]float64{0, 0, 1, 0, 1, 0, 1, 1, 1, 0}, 5e-5},
		{"multinomial logistic", `{"type": "logistic-regression", "params": {"C": 2}}`,
			`{"type": "sklearn", "class": "sklearn.linear_model.LogisticRegression", "params": {"C": 2, "tol": 1e-12, "max_iter": 10000}}`,
			[]float64{1, 1, 2, 1, 3, 2, 3, 3, 2, 2}, 5e-5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := newStore(t, map[string]string{"models/go.json": tc.goDecl, "models/sk.json": tc.skDecl})
			gres, _ := run(t, task(dir, "go", "fit", []any{x, tc.y}, nil))
			sres, _ := run(t, task(dir, "sk", "fit", []any{x, tc.y}, nil))
			gf, sf := gres.(map[string]any), sres.(map[string]any)
			if gf["metric"] != sf["metric"] || !near(gf["score"].(float64), sf["score"].(float64), tc.tol) {
				t.Errorf("training scores: go %v %v, sklearn %v %v", gf["metric"], gf["score"], sf["metric"], sf["score"])
			}
			grec := readVersion(t, dir, "go", gf["version"].(string))
			_, attrs := fittedAttrs(t, dir, "sk", sf["version"].(string))
			var goCoef [][]float64
			var goIntercept []float64
			var skCoef [][]float64
			var skIntercept []float64
			if strings.Contains(tc.name, "logistic") {
				var f logisticFit
				json.Unmarshal(grec.Fitted, &f)
				goCoef, goIntercept = f.Coef, f.Intercept
				remarshal(t, attrs["coef_"], &skCoef)
				remarshal(t, attrs["intercept_"], &skIntercept)
				var c float64
				json.Unmarshal(grec.Params, &struct{ C *float64 }{&c})
				sk := logisticFit{Classes: f.Classes, Coef: skCoef, Intercept: skIntercept}
				if g, s := maxGradient(x, tc.y, f, c), maxGradient(x, tc.y, sk, c); g > s || g > 1e-6 {
					t.Errorf("largest gradient component at the optimum: go %g, sklearn %g", g, s)
				}
			} else {
				var f linearFit
				json.Unmarshal(grec.Fitted, &f)
				goCoef, goIntercept = [][]float64{f.Coef}, []float64{f.Intercept}
				var c []float64
				var b float64
				remarshal(t, attrs["coef_"], &c)
				remarshal(t, attrs["intercept_"], &b)
				skCoef, skIntercept = [][]float64{c}, []float64{b}
			}
			for r := range goCoef {
				for j := range goCoef[r] {
					if !near(goCoef[r][j], skCoef[r][j], tc.tol) {
						t.Errorf("coef[%d][%d]: go %.12g, sklearn %.12g", r, j, goCoef[r][j], skCoef[r][j])
					}
				}
				if !near(goIntercept[r], skIntercept[r], tc.tol) {
					t.Errorf("intercept[%d]: go %.12g, sklearn %.12g", r, goIntercept[r], skIntercept[r])
				}
			}
			probe := [][]float64{{0, 0}, {1, 1}, {3, 2}, {4, 4}, {0.5, 3}}
			gp, _ := run(t, task(dir, "go", "predict", []any{probe}, nil))
			sp, _ := run(t, task(dir, "sk", "predict", []any{probe}, nil))
			g, s := floatsOf(t, gp), floatsOf(t, sp)
			for i := range g {
				if !near(g[i], s[i], tc.tol*10) {
					t.Errorf("prediction %d: go %v, sklearn %v", i, g[i], s[i])
				}
			}
		})
	}
}

func maxGradient(x [][]float64, y []float64, f logisticFit, c float64) float64 {
	gw, gb := logisticGradient(x, y, f, c)
	var m float64
	for r := range gw {
		for _, g := range append(gw[r], gb[r]) {
			m = math.Max(m, math.Abs(g))
		}
	}
	return m
}

func remarshal(t *testing.T, v any, dst any) {
	t.Helper()
	b, _ := json.Marshal(v)
	if err := json.Unmarshal(b, dst); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
}

func TestSklearnUnsupervised(t *testing.T) {
	withSklearn(t)
	dir := newStore(t, map[string]string{
		"models/scaler.json": `{"type": "sklearn", "class": "sklearn.preprocessing.StandardScaler"}`,
		"models/km.json":     `{"type": "sklearn", "class": "sklearn.cluster.KMeans", "params": {"n_clusters": 2, "n_init": 10, "random_state": 0}}`,
		"datasets/d.csv":     "a,b\n1,10\n2,20\n3,60\n",
	})
	// A transformer without a score: the fit still stores a version.
	res, e := run(t, task(dir, "scaler", "fit", []any{"d"}, nil))
	if fr := res.(map[string]any); fr["score"] != nil || len(e.metrics) != 0 {
		t.Errorf("fit = %v, metrics %v; want no score", fr, e.metrics)
	}
	res, _ = run(t, task(dir, "scaler", "transform", []any{"d"}, map[string]any{"into": "scaled"}))
	if fr := res.(map[string]any); fr["dataset"] != "scaled" || fr["rows"] != 3.0 {
		t.Errorf("transform into = %v", fr)
	}
	data, _ := os.ReadFile(filepath.Join(dir, "datasets", "scaled.csv"))
	tab, err := parseCSV("scaled.csv", data)
	if err != nil {
		t.Fatal(err)
	}
	// (v − mean)/std with the population standard deviation.
	cols := [][]float64{{1, 2, 3}, {10, 20, 60}}
	for j, col := range cols {
		mean := (col[0] + col[1] + col[2]) / 3
		var ss float64
		for _, v := range col {
			ss += (v - mean) * (v - mean)
		}
		sd := math.Sqrt(ss / 3)
		for i, v := range col {
			if got := tab.data[i*2+j]; !near(got, (v-mean)/sd, 1e-12) {
				t.Errorf("scaled[%d][%d] = %v, want %v", i, j, got, (v-mean)/sd)
			}
		}
	}
	if !slices.Equal(tab.columns, []string{"t0", "t1"}) {
		t.Errorf("columns = %v", tab.columns)
	}

	rows := [][]float64{{10, 10}, {0, 0}, {10, 11}, {0, 1}, {11, 10}, {1, 0}, {11, 11}, {1, 1}}
	res, _ = run(t, task(dir, "km", "fit", []any{rows}, nil))
	if fr := res.(map[string]any); fr["metric"] != "score" || !near(fr["score"].(float64), -4, 1e-9) {
		t.Errorf("kmeans fit = %v, want score -4 (minus the inertia)", fr)
	}
	res, _ = run(t, task(dir, "km", "predict", []any{[][]float64{{0, 0}, {1, 1}, {11, 11}}}, nil))
	if p := floatsOf(t, res); p[0] != p[1] || p[0] == p[2] {
		t.Errorf("kmeans labels = %v, want the first two equal and the third apart", p)
	}
}

func TestSklearnParallelFits(t *testing.T) {
	withSklearn(t)
	dir := newStore(t, map[string]string{
		"models/sk.json": `{"type": "sklearn", "class": "sklearn.linear_model.LinearRegression"}`,
	})
	var wg sync.WaitGroup
	vs := make([]string, 2)
	for i := range vs {
		wg.Go(func() {
			res, err := Kind{}.Run(context.Background(), task(dir, "sk", "fit", []any{[]any{1, 2, 3}, []any{0, 1, float64(i)}}, nil), &emitter{})
			if err != nil {
				t.Error(err)
				return
			}
			vs[i] = res.(FitResult).Version
		})
	}
	wg.Wait()
	if vs[0] == vs[1] {
		t.Fatalf("two parallel fits stored one version %s", vs[0])
	}
	ents, _ := os.ReadDir(filepath.Join(dir, "models", "sk"))
	if len(ents) != 4 {
		t.Errorf("models/sk holds %d files, want two versions and two pickles", len(ents))
	}
	for i, v := range vs {
		// Each version predicts with its own estimator: y = (i/2)·x + ….
		res, _ := run(t, task(dir, "sk", "predict", []any{[]any{1, 3}}, map[string]any{"version": v}))
		p := floatsOf(t, res)
		slope := (float64(i) - 0) / 2
		if !near(p[1]-p[0], 2*slope, 1e-9) {
			t.Errorf("version %s (fit %d) predicts %v", v, i, p)
		}
	}
}

func TestSklearnErrors(t *testing.T) {
	py := withSklearn(t)
	dir := newStore(t, map[string]string{
		"models/noclass.json":  `{"type": "sklearn", "class": "sklearn.linear_model.Nope"}`,
		"models/nomodule.json": `{"type": "sklearn", "class": "nosuchpkg.Model"}`,
		"models/badparam.json": `{"type": "sklearn", "class": "sklearn.linear_model.LinearRegression", "params": {"alpha": 1}}`,
		"models/onecls.json":   `{"type": "sklearn", "class": "sklearn.linear_model.LogisticRegression"}`,
		"models/lin.json":      `{"type": "sklearn", "class": "sklearn.linear_model.LinearRegression"}`,
	})
	fit := func(name string) sdk.Task { return task(dir, name, "fit", []any{[]any{1, 2, 3}, []any{1, 1, 1}}, nil) }
	tests := []struct {
		name string
		env  string // OMP_PYTHON, "" for the one with sklearn
		task sdk.Task
		want string
	}{
		{"no such class", "", fit("noclass"), `model noclass.fit: module sklearn.linear_model has no class Nope`},
		{"no such module", "", fit("nomodule"),
			`model nomodule.fit: cannot import module nosuchpkg for class nosuchpkg.Model (ModuleNotFoundError: No module named 'nosuchpkg')`},
		{"bad parameter", "", fit("badparam"), `model badparam.fit: TypeError: `},
		{"estimator raises", "", fit("onecls"), `model onecls.fit: ValueError: `},
		{"no transform", "", task(dir, "lin", "transform", []any{[]any{1}}, nil), `model lin.transform: LinearRegression has no transform method`},
		{"no Python", "/nonexistent/python3", fit("lin"), `model lin.fit: OMP_PYTHON=/nonexistent/python3: no such Python`},
	}
	run(t, fit("lin"))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.env != "" {
				t.Setenv("OMP_PYTHON", tc.env)
			}
			err := runErr(t, tc.task)
			t.Log(err)
			if !strings.HasPrefix(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error:\n got %s\nwant %s…, one line", err, tc.want)
			}
			if !sdk.IsPermanent(err) {
				t.Errorf("error %q is not permanent", err)
			}
		})
	}

	t.Run("Python without sklearn", func(t *testing.T) {
		// A real Python that cannot see Debian's packages: a venv of the
		// same interpreter without system site-packages.
		venv := filepath.Join(t.TempDir(), "venv")
		if out, err := exec.Command(py, "-m", "venv", "--without-pip", venv).CombinedOutput(); err != nil {
			t.Skipf("cannot make a venv to test a Python without sklearn: %v: %s", err, out)
		}
		bare := filepath.Join(venv, "bin", "python3")
		t.Setenv("OMP_PYTHON", bare)
		err := runErr(t, fit("lin"))
		want := "model lin.fit: " + bare + " cannot import numpy (ModuleNotFoundError: No module named 'numpy'); " +
			"install python3-numpy (Debian) or set OMP_PYTHON to a Python that has numpy"
		if err.Error() != want {
			t.Errorf("error:\n got %s\nwant %s", err, want)
		}

		// The same Python with numpy, linked from the system, but still
		// without sklearn.
		out, err := exec.Command(py, "-c", "import numpy, os; print(os.path.dirname(numpy.__file__))").Output()
		if err != nil {
			t.Fatalf("locating numpy: %v", err)
		}
		site := t.TempDir()
		if err := os.Symlink(strings.TrimSpace(string(out)), filepath.Join(site, "numpy")); err != nil {
			t.Fatal(err)
		}
		t.Setenv("PYTHONPATH", site)
		err = runErr(t, fit("lin"))
		want = "model lin.fit: " + bare + " cannot import sklearn (ModuleNotFoundError: No module named 'sklearn'); " +
			"install python3-sklearn (Debian) or set OMP_PYTHON to a Python that has sklearn"
		if err.Error() != want {
			t.Errorf("error:\n got %s\nwant %s", err, want)
		}
	})
}
