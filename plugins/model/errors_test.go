package model

import (
	"strings"
	"testing"

	"github.com/ompdev/omp/plugins/sdk"
)

func TestErrors(t *testing.T) {
	dir := newStore(t, map[string]string{
		"models/lin.json":      `{"type": "linear-regression"}`,
		"models/fitted.json":   `{"type": "linear-regression"}`,
		"models/svm.json":      `{"type": "svm"}`,
		"models/notype.json":   `{"params": {}}`,
		"models/typo.json":     `{"type": "ridge", "params": {"alhpa": 2}}`,
		"models/badalpha.json": `{"type": "ridge", "params": {"alpha": -1}}`,
		"models/linalpha.json": `{"type": "linear-regression", "params": {"alpha": 1}}`,
		"models/km.json":       `{"type": "kmeans", "params": {"n_clusters": 5}}`,
		"models/sk.json":       `{"type": "sklearn"}`,
		"models/broken.json":   `{"type": "ridge",`,
		"models/one.json":      `{"type": "logistic-regression"}`,
		"datasets/x.csv":       "x\n1\n2\n3\n",
		"datasets/y.csv":       "y\n1\n2\n3\n",
		"datasets/y4.csv":      "y\n1\n2\n3\n4\n",
		"datasets/xy.csv":      "x,y\n1,2\n3,4\n5,6\n",
		"datasets/word.csv":    "a,b\n1,2\n3,abc\n",
		"datasets/ragged.csv":  "a,b\n1,2\n3\n",
		"datasets/empty.csv":   "",
		"datasets/header.csv":  "a,b\n",
		"datasets/hole.csv":    "a,b,c\n1,2,3\n4,,6\n",
		"datasets/nan.csv":     "a\n1\nNaN\n",
		"datasets/quote.csv":   "a\n\"1\n",
		"datasets/huge.csv":    "a\n1e999\n",
		"datasets/noname.csv":  "a,,c\n1,2,3\n",
	})
	fit := func(name string, args ...any) sdk.Task { return task(dir, name, "fit", args, nil) }
	run(t, fit("fitted", "x", "y"))

	tests := []struct {
		name string
		task sdk.Task
		want string
	}{
		{"non-numeric cell", fit("lin", "word", "y"),
			`model lin.fit: X: datasets/word.csv:3:3: column "b": "abc" is not a number`},
		{"ragged row", fit("lin", "ragged", "y"),
			`model lin.fit: X: datasets/ragged.csv:3: 1 fields, the header has 2`},
		{"empty cell", fit("lin", "hole", "y"),
			`model lin.fit: X: datasets/hole.csv:3:3: column "b": "" is empty`},
		{"NaN cell", fit("lin", "nan", "y"),
			`model lin.fit: X: datasets/nan.csv:3:1: column "a": "NaN" is not a finite number`},
		{"overflowing cell", fit("lin", "huge", "y"),
			`model lin.fit: X: datasets/huge.csv:2:1: column "a": "1e999" is not a finite number`},
		{"unnamed column", fit("lin", "noname", "y"),
			`model lin.fit: X: datasets/noname.csv:1:3: column 2 has no name in the header row`},
		{"empty file", fit("lin", "empty", "y"),
			`model lin.fit: X: datasets/empty.csv: empty file, want a header row and rows of numbers`},
		{"header only", fit("lin", "header", "y"),
			`model lin.fit: X: datasets/header.csv: no rows after the header`},
		{"bad quoting", fit("lin", "quote", "y"),
			`model lin.fit: X: datasets/quote.csv:2:4: extraneous or missing " in quoted-field`},
		{"missing dataset", fit("lin", "nope", "y"),
			`model lin.fit: X: datasets/nope.csv: not found in store DIR`},
		{"unknown column", fit("lin", "xy:x", "xy:z"),
			`model lin.fit: Y: datasets/xy.csv: no column "z" (have x, y)`},
		{"dataset escapes", fit("lin", "../secret", "y"),
			`model lin.fit: X: dataset "../secret": "datasets/../secret.csv": name escapes the store`},
		{"rows differ", fit("lin", "x", "y4"),
			`model lin.fit: X has 3 rows but Y has 4`},
		{"Y with two columns", fit("lin", "x", "xy"),
			`model lin.fit: Y has 2 columns (x, y); give one, as in "DATASET:COLUMN"`},
		{"no Y", fit("lin", "x"),
			`model lin.fit: Y: missing: give a dataset name or a list, or pass data from upstream`},
		{"no X", fit("lin"),
			`model lin.fit: X: missing: give a dataset name or a list, or pass data from upstream`},
		{"ragged inline rows", fit("lin", [][]any{{1, 2}, {3}}, []any{1, 2}),
			`model lin.fit: X: row 2 has 1 values, row 1 has 2`},
		{"inline string", fit("lin", [][]any{{1, "a"}}, []any{1}),
			`model lin.fit: X: row 1, column 2: a string is not a number`},
		{"inline mixed rows", fit("lin", []any{[]any{1}, 2}, []any{1, 2}),
			`model lin.fit: X: row 2 is a number, not a list like row 1`},
		{"boolean X", fit("lin", true, []any{1}),
			`model lin.fit: X: want a dataset name or a list, got a boolean`},
		{"missing model file", fit("nomodel", "x", "y"),
			`model nomodel.fit: no model declaration: models/nomodel.json: not found in store DIR`},
		{"unknown type", fit("svm", "x", "y"),
			`model svm.fit: models/svm.json: unknown type "svm" (one of kmeans, linear-regression, logistic-regression, ridge, sklearn)`},
		{"no type", fit("notype", "x", "y"),
			`model notype.fit: models/notype.json: no "type" (one of kmeans, linear-regression, logistic-regression, ridge, sklearn)`},
		{"misspelt param", fit("typo", "x", "y"),
			`model typo.fit: models/typo.json: params: unknown field "alhpa"`},
		{"bad param value", fit("badalpha", "x", "y"),
			`model badalpha.fit: params: alpha must be >= 0, got -1`},
		{"param of another type", fit("linalpha", "x", "y"),
			`model linalpha.fit: params: alpha is a ridge parameter; linear-regression has none`},
		{"broken declaration", fit("broken", "x", "y"),
			`model broken.fit: models/broken.json: unexpected EOF`},
		{"sklearn without class", fit("sk", "x", "y"),
			`model sk.fit: models/sk.json: type sklearn needs a "class", such as "sklearn.linear_model.LogisticRegression"`},
		{"too many clusters", fit("km", "x"),
			`model km.fit: params: n_clusters = 5 but X has only 3 rows`},
		{"Y for kmeans", fit("km", "x", "y"),
			`model km.fit: the model is unsupervised: fit takes X only`},
		{"one class", fit("one", "x", []any{1, 1, 1}),
			`model one.fit: Y has one class (1); logistic regression needs at least two`},
		{"not fitted", task(dir, "lin", "predict", []any{"x"}, nil),
			`model lin.predict: lin is not fitted: no versions in models/lin/ of store DIR; run lin.fit first`},
		{"wrong number of features", task(dir, "fitted", "predict", []any{"xy"}, nil),
			`model fitted.predict: X has 2 columns but version VERSION was fitted on 1 (x)`},
		{"no transform", task(dir, "fitted", "transform", []any{"x"}, nil),
			`model fitted.transform: this model type has no transform action; kmeans and sklearn transformers do`},
		{"unknown action", task(dir, "lin", "train", nil, nil),
			`model lin.train: no action "train" (fit, predict, score, transform)`},
		{"kwarg of another action", task(dir, "lin", "fit", []any{"x", "y"}, map[string]any{"into": "p"}),
			`model lin.fit: fit takes no argument into`},
		{"bad into", task(dir, "fitted", "predict", []any{"x"}, map[string]any{"into": "../p"}),
			`model fitted.predict: into: invalid dataset name "../p"`},
		{"bad model name", task(dir, "a/b", "fit", []any{"x", "y"}, nil),
			`model a/b.fit: invalid model name "a/b"`},
		{"too many arguments", task(dir, "fitted", "predict", []any{"x", "y"}, nil),
			`model fitted.predict: takes at most 1 arguments, got 2`},
	}
	vs := latestVersion(t, dir, "fitted")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := runErr(t, tc.task)
			want := strings.NewReplacer("DIR", dir, "VERSION", vs).Replace(tc.want)
			if err.Error() != want {
				t.Errorf("error:\n got %s\nwant %s", err, want)
			}
			if !sdk.IsPermanent(err) {
				t.Errorf("error %q is not marked permanent; retrying cannot fix it", err)
			}
		})
	}
}

func latestVersion(t *testing.T, dir, model string) string {
	t.Helper()
	rec, err := loadVersion(t.Context(), openStore(t, dir), model, "")
	if err != nil {
		t.Fatal(err)
	}
	return rec.Version
}
