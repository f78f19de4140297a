// Package model is the built-in kind `model`: fit, predict, score and
// transform models declared in the store.
//
//	model NAME.fit(X, Y)       fit models/NAME.json on X and Y; stores version models/NAME/VERSION.json
//	model NAME.predict(X)      predictions of the latest version (version="…" picks one; into="D" writes datasets/D.csv)
//	model NAME.score(X, Y)     R² for a regression, accuracy for a classification, −inertia for kmeans
//	model NAME.transform(X)    derived features (kmeans: distances to the centres; sklearn: the estimator's transform)
//
// X and Y are a dataset name ("train" reads datasets/train.csv, a header row
// and numeric columns; "train:a,b" keeps columns a and b), an inline list (a
// list of rows, or a list of numbers for one column), or, when omitted, the
// upstream result: that is X, or {"X": …, "Y": …}, or Y when X is given. An
// upstream result of a fit of the same model pins predict, score and
// transform to the version that fit stored.
//
// A declaration is {"type": T, "params": {…}} with T one of linear-regression,
// ridge, logistic-regression, kmeans (implemented here with gonum), or
// {"type": "sklearn", "class": "sklearn.module.Class", "params": {…}}, fitted
// and run by scikit-learn in $OMP_PYTHON (else python3 on PATH), the fitted
// estimator pickled next to the version record.
//
// Versions are named by the UTC time of the fit with nanoseconds and a random
// suffix, so they sort in time order and two fits in parallel, on one worker
// or two, store two versions. Every object is written with one atomic Put.
package model

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ompdev/omp/plugins/sdk"
	"github.com/ompdev/omp/store"
)

// Kind is the model kind.
type Kind struct{}

var _ sdk.Kind = Kind{}

// fitReads are what a fit reads: the declaration and the datasets its
// arguments name ("train:a,b" is datasets/train.csv). useReads add the fitted
// versions (models/NAME/…), which predict, score and transform load.
var (
	fitReads = []sdk.Read{
		{Object: "models/{name}.json"},
		{Object: "datasets/{}*", Arg: 1, Cut: ":"},
		{Object: "datasets/{}*", Arg: 2, Cut: ":"},
	}
	useReads = append([]sdk.Read{{Object: "models/{name}*"}}, fitReads[1:]...)
)

func (Kind) Describe() sdk.KindSpec {
	return sdk.KindSpec{
		Name:        "model",
		Description: "fit, predict, score and transform models declared in models/NAME.json",
		Actions: []sdk.ActionSpec{
			{Name: "fit", MinArgs: 0, MaxArgs: 2, Args: []string{"X", "Y"}, Reads: fitReads,
				Doc: "fit the model on X (and Y) and store a new version"},
			{Name: "predict", Reads: useReads, MinArgs: 0, MaxArgs: 1, Args: []string{"X"}, Kwargs: []string{"version", "into"},
				Doc: "predict for X with the latest version; into=\"D\" writes datasets/D.csv"},
			{Name: "score", Reads: useReads, MinArgs: 0, MaxArgs: 2, Args: []string{"X", "Y"}, Kwargs: []string{"version"},
				Doc: "R² (regression) or accuracy (classification) on X and Y"},
			{Name: "transform", Reads: useReads, MinArgs: 0, MaxArgs: 1, Args: []string{"X"}, Kwargs: []string{"version", "into"},
				Doc: "transform X; into=\"D\" writes datasets/D.csv"},
		},
	}
}

// declaration is models/NAME.json.
type declaration struct {
	Type        string          `json:"type"`
	Class       string          `json:"class,omitempty"`
	Params      json.RawMessage `json:"params,omitempty"`
	Description string          `json:"description,omitempty"`
}

// FitResult is what fit returns.
type FitResult struct {
	Model   string   `json:"model"`
	Version string   `json:"version"`
	Metric  string   `json:"metric"`
	Score   *float64 `json:"score"`
	Rows    int      `json:"rows"`
}

// DatasetResult is what predict and transform return with into=.
type DatasetResult struct {
	Dataset string `json:"dataset"`
	Rows    int    `json:"rows"`
}

// call is one Run: the task, its store and the emitter.
type call struct {
	t  sdk.Task
	st *store.Store
	e  sdk.Emitter

	x, y    json.RawMessage // the data arguments, resolved against the input
	pinned  string          // version of an upstream fit of this model
	version string          // version= kwarg
	into    string          // into= kwarg
}

func (k Kind) Run(ctx context.Context, t sdk.Task, e sdk.Emitter) (any, error) {
	res, err := k.run(ctx, t, e)
	if err != nil {
		return nil, fmt.Errorf("model %s.%s: %w", t.Name, t.Action, err)
	}
	return res, nil
}

func (Kind) run(ctx context.Context, t sdk.Task, e sdk.Emitter) (any, error) {
	switch t.Action {
	case "fit", "predict", "score", "transform":
	default:
		return nil, sdk.Permanent(fmt.Errorf("no action %q (fit, predict, score, transform)", t.Action))
	}
	if t.Name == "" || strings.Contains(t.Name, "/") || store.CheckName("models/"+t.Name+".json") != nil {
		return nil, sdk.Permanent(fmt.Errorf("invalid model name %q", t.Name))
	}
	c := &call{t: t, e: e}
	if err := c.args(); err != nil {
		return nil, err
	}
	st, err := store.Open(ctx, t.Store)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	c.st = st
	switch t.Action {
	case "fit":
		return c.fit(ctx)
	case "predict":
		return c.predict(ctx)
	case "score":
		return c.score(ctx)
	default:
		return c.transform(ctx)
	}
}

// args resolves X, Y and the keyword arguments. Positional arguments win;
// the upstream result fills in what is missing.
func (c *call) args() error {
	t := c.t
	allowed := map[string]string{"predict": "version into", "score": "version", "transform": "version into"}[t.Action]
	for k := range t.Kwargs {
		if !slices.Contains(strings.Fields(allowed), k) {
			return sdk.Permanent(fmt.Errorf("%s takes no argument %s", t.Action, k))
		}
	}
	if _, err := t.Kwarg("version", &c.version); err != nil {
		return err
	}
	if _, err := t.Kwarg("into", &c.into); err != nil {
		return err
	}
	if c.into != "" {
		if err := store.CheckName(datasetObject(c.into)); err != nil || strings.Contains(c.into, ":") {
			return sdk.Permanent(fmt.Errorf("into: invalid dataset name %q", c.into))
		}
	}
	maxArgs := 2
	if t.Action == "predict" || t.Action == "transform" {
		maxArgs = 1
	}
	if len(t.Args) > maxArgs {
		return sdk.Permanent(fmt.Errorf("takes at most %d arguments, got %d", maxArgs, len(t.Args)))
	}
	if len(t.Args) > 0 && !isNull(t.Args[0]) {
		c.x = t.Args[0]
	}
	if len(t.Args) > 1 && !isNull(t.Args[1]) {
		c.y = t.Args[1]
	}
	if isNull(t.Input) {
		return nil
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(t.Input, &obj) == nil {
		var fr FitResult
		if _, isFit := obj["version"]; isFit && json.Unmarshal(t.Input, &fr) == nil && fr.Model != "" {
			// The output of a fit is not data; it names a version.
			if fr.Model == t.Name {
				c.pinned = fr.Version
			}
			return nil
		}
		if x, ok := obj["X"]; ok {
			if c.x == nil {
				c.x = x
			}
			if c.y == nil {
				c.y = obj["Y"]
			}
			return nil
		}
	}
	if c.x == nil {
		c.x = t.Input
	} else if c.y == nil {
		c.y = t.Input
	}
	return nil
}

func isNull(raw json.RawMessage) bool {
	s := bytes.TrimSpace(raw)
	return len(s) == 0 || string(s) == "null"
}

func (c *call) data(ctx context.Context, role string, raw json.RawMessage) (*table, error) {
	if raw == nil {
		return nil, sdk.Permanent(fmt.Errorf("%s: missing: give a dataset name or a list, or pass data from upstream", role))
	}
	return loadData(ctx, c.st, role, raw)
}

// xy loads X and, when needed, Y, and checks that their shapes agree.
func (c *call) xy(ctx context.Context, needY bool) (*table, *table, error) {
	x, err := c.data(ctx, "X", c.x)
	if err != nil {
		return nil, nil, err
	}
	if !needY {
		if c.y != nil && c.t.Action == "fit" && len(c.t.Args) > 1 {
			return nil, nil, sdk.Permanent(errors.New("the model is unsupervised: fit takes X only"))
		}
		return x, nil, nil
	}
	y, err := c.data(ctx, "Y", c.y)
	if err != nil {
		return nil, nil, err
	}
	if y.cols != 1 {
		return nil, nil, sdk.Permanent(fmt.Errorf("Y has %d columns (%s); give one, as in \"DATASET:COLUMN\"",
			y.cols, strings.Join(y.columns, ", ")))
	}
	if y.rows != x.rows {
		return nil, nil, sdk.Permanent(fmt.Errorf("X has %d rows but Y has %d", x.rows, y.rows))
	}
	return x, y, nil
}

func (c *call) readDeclaration(ctx context.Context) (*declaration, error) {
	obj := "models/" + c.t.Name + ".json"
	data, err := c.st.Get(ctx, obj)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, sdk.Permanent(fmt.Errorf("no model declaration: %w", err))
		}
		return nil, err
	}
	var d declaration
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		return nil, sdk.Permanent(fmt.Errorf("%s: %s", obj, strings.TrimPrefix(err.Error(), "json: ")))
	}
	switch {
	case d.Type == "":
		return nil, sdk.Permanent(fmt.Errorf("%s: no \"type\" (one of %s)", obj, typeNames()))
	case d.Type == "sklearn" && d.Class == "":
		return nil, sdk.Permanent(fmt.Errorf("%s: type sklearn needs a \"class\", such as \"sklearn.linear_model.LogisticRegression\"", obj))
	case d.Type != "sklearn" && goTypes[d.Type] == nil:
		return nil, sdk.Permanent(fmt.Errorf("%s: unknown type %q (one of %s)", obj, d.Type, typeNames()))
	case d.Type != "sklearn" && d.Class != "":
		return nil, sdk.Permanent(fmt.Errorf("%s: \"class\" is for type sklearn, not %s", obj, d.Type))
	}
	return &d, nil
}

func (c *call) fit(ctx context.Context) (any, error) {
	d, err := c.readDeclaration(ctx)
	if err != nil {
		return nil, err
	}
	obj := "models/" + c.t.Name + ".json"
	var est estimator
	needY := true
	if d.Type != "sklearn" {
		est = goTypes[d.Type]()
		if err := decodeParams(d.Params, est.params()); err != nil {
			return nil, sdk.Permanent(fmt.Errorf("%s: %w", obj, err))
		}
		needY = est.supervised()
	} else if c.y == nil {
		needY = false // a clusterer or transformer
	}
	x, y, err := c.xy(ctx, needY)
	if err != nil {
		return nil, err
	}
	rec := &version{Model: c.t.Name, Type: d.Type, Features: x.columns, Data: []dataRef{x.ref("X")}}
	if y != nil {
		rec.Target = y.columns[0]
		rec.Data = append(rec.Data, y.ref("Y"))
	}
	v, err := claimVersion(ctx, c.st, c.t.Name)
	if err != nil {
		return nil, err
	}
	rec.Version = v
	if d.Type == "sklearn" {
		if err := c.sklearnFit(ctx, d, rec, x, y); err != nil {
			return nil, err
		}
	} else {
		if err := est.fit(ctx, x, y); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, sdk.Permanent(err)
		}
		if w, ok := est.(interface{ warnings() []string }); ok {
			for _, line := range w.warnings() {
				c.e.Log("warning: " + line)
			}
		}
		s := est.score(x, y)
		if !finite(s) {
			return nil, sdk.Permanent(fmt.Errorf("training %s is %g: the data does not fit this model", est.metric(), s))
		}
		rec.Score = scoreRecord{Metric: est.metric(), Value: &s}
		rec.Params, _ = json.Marshal(est.params())
		if rec.Fitted, err = json.Marshal(est.fitted()); err != nil {
			return nil, sdk.Permanent(fmt.Errorf("fitted parameters: %w", err))
		}
	}
	rec.FittedAt = time.Now().UTC()
	data, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return nil, sdk.Permanent(fmt.Errorf("version record: %w", err))
	}
	if err := c.st.Put(ctx, versionObject(c.t.Name, v), append(data, '\n')); err != nil {
		return nil, err
	}
	res := FitResult{Model: c.t.Name, Version: v, Metric: rec.Score.Metric, Score: rec.Score.Value, Rows: x.rows}
	if s := rec.Score.Value; s != nil {
		c.e.Metric("train_"+rec.Score.Metric, *s, 0)
		c.e.Log(fmt.Sprintf("%s: fitted version %s on %d rows: training %s = %.6g", c.t.Name, v, x.rows, rec.Score.Metric, *s))
	} else {
		c.e.Log(fmt.Sprintf("%s: fitted version %s on %d rows (the estimator has no score)", c.t.Name, v, x.rows))
	}
	return res, nil
}

// fitted is a stored version ready to use.
type fitted interface {
	predict(ctx context.Context, x *table) ([]float64, error)
	transform(ctx context.Context, x *table) ([][]float64, error)
	score(ctx context.Context, x, y *table) (float64, string, error)
	supervised() bool
}

func (c *call) load(ctx context.Context) (*version, fitted, error) {
	want := c.version
	if want == "" {
		want = c.pinned
	}
	rec, err := loadVersion(ctx, c.st, c.t.Name, want)
	if err != nil {
		return nil, nil, err
	}
	obj := versionObject(rec.Model, rec.Version)
	if rec.Type == "sklearn" {
		return rec, &sklearnModel{c: c, rec: rec}, nil
	}
	newEst := goTypes[rec.Type]
	if newEst == nil {
		return nil, nil, sdk.Permanent(fmt.Errorf("%s: unknown type %q", obj, rec.Type))
	}
	est := newEst()
	if err := json.Unmarshal(rec.Params, est.params()); err != nil {
		return nil, nil, sdk.Permanent(fmt.Errorf("%s: params: %w", obj, err))
	}
	if err := json.Unmarshal(rec.Fitted, est.fitted()); err != nil {
		return nil, nil, sdk.Permanent(fmt.Errorf("%s: fitted: %w", obj, err))
	}
	return rec, goFitted{est}, nil
}

// loadData loads the version to apply and the data to apply it to: X, and
// Y too when withY is set and the model is supervised. X must have the
// columns the version was fitted on.
func (c *call) loadData(ctx context.Context, withY bool) (*version, fitted, *table, *table, error) {
	rec, m, err := c.load(ctx)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	x, y, err := c.xy(ctx, withY && m.supervised())
	if err != nil {
		return nil, nil, nil, nil, err
	}
	if err := checkFeatures(rec, x); err != nil {
		return nil, nil, nil, nil, err
	}
	return rec, m, x, y, nil
}

// checkFeatures compares X with the columns the version was fitted on.
func checkFeatures(rec *version, x *table) error {
	if x.cols != len(rec.Features) {
		return sdk.Permanent(fmt.Errorf("X has %d columns but version %s was fitted on %d (%s)",
			x.cols, rec.Version, len(rec.Features), strings.Join(rec.Features, ", ")))
	}
	return nil
}

func (c *call) predict(ctx context.Context) (any, error) {
	rec, m, x, _, err := c.loadData(ctx, false)
	if err != nil {
		return nil, err
	}
	pred, err := m.predict(ctx, x)
	if err != nil {
		return nil, err
	}
	if c.into == "" {
		return pred, nil
	}
	col := rec.Target
	if col == "" {
		col = "prediction"
	}
	rows := make([][]float64, len(pred))
	for i, p := range pred {
		rows[i] = []float64{p}
	}
	return c.writeDataset(ctx, []string{col}, rows)
}

func (c *call) transform(ctx context.Context) (any, error) {
	_, m, x, _, err := c.loadData(ctx, false)
	if err != nil {
		return nil, err
	}
	rows, err := m.transform(ctx, x)
	if err != nil {
		return nil, err
	}
	if c.into == "" {
		return rows, nil
	}
	var header []string
	if len(rows) > 0 {
		for j := range rows[0] {
			header = append(header, fmt.Sprintf("t%d", j))
		}
	}
	return c.writeDataset(ctx, header, rows)
}

func (c *call) writeDataset(ctx context.Context, header []string, rows [][]float64) (any, error) {
	if err := c.st.Put(ctx, datasetObject(c.into), formatCSV(header, rows)); err != nil {
		return nil, err
	}
	c.e.Log(fmt.Sprintf("%s: wrote %d rows to %s", c.t.Name, len(rows), datasetObject(c.into)))
	return DatasetResult{Dataset: c.into, Rows: len(rows)}, nil
}

func (c *call) score(ctx context.Context) (any, error) {
	rec, m, x, y, err := c.loadData(ctx, true)
	if err != nil {
		return nil, err
	}
	s, metric, err := m.score(ctx, x, y)
	if err != nil {
		return nil, err
	}
	c.e.Metric(metric, s, 0)
	c.e.Log(fmt.Sprintf("%s: version %s: %s = %.6g on %d rows", c.t.Name, rec.Version, metric, s, x.rows))
	return s, nil
}

// goFitted adapts a Go estimator to fitted.
type goFitted struct{ est estimator }

func (g goFitted) predict(_ context.Context, x *table) ([]float64, error) {
	return g.est.predict(x), nil
}

func (g goFitted) transform(_ context.Context, x *table) ([][]float64, error) {
	rows, err := g.est.transform(x)
	if errors.Is(err, errNoTransform) {
		return nil, sdk.Permanent(fmt.Errorf("this model type %v; kmeans and sklearn transformers do", err))
	}
	return rows, err
}

func (g goFitted) score(_ context.Context, x, y *table) (float64, string, error) {
	s := g.est.score(x, y)
	if !finite(s) {
		return 0, "", sdk.Permanent(fmt.Errorf("%s is %g", g.est.metric(), s))
	}
	return s, g.est.metric(), nil
}

func (g goFitted) supervised() bool { return g.est.supervised() }
