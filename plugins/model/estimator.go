package model

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/stat"
)

// estimator is a model implemented in Go. fit is given n×p features and n
// targets (nil for an unsupervised model); the other methods need a fitted
// estimator and x with the fitted number of columns.
type estimator interface {
	fit(ctx context.Context, x, y *table) error
	predict(x *table) []float64
	// transform returns n rows of derived features, or errNoTransform.
	transform(x *table) ([][]float64, error)
	score(x, y *table) float64
	metric() string
	supervised() bool
	// params and fitted are what a version records; both are pointers that
	// json.Unmarshal fills when a version is loaded.
	params() any
	fitted() any
}

var errNoTransform = errors.New("has no transform action")

// goTypes are the model types implemented here, with their constructors.
var goTypes = map[string]func() estimator{
	"linear-regression":   func() estimator { return newLinear(false) },
	"ridge":               func() estimator { return newLinear(true) },
	"logistic-regression": newLogistic,
	"kmeans":              newKMeans,
}

// typeNames lists the types a declaration may name, for error messages.
func typeNames() string {
	names := []string{"sklearn"}
	for n := range goTypes {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// decodeParams fills dst from a declaration's params, rejecting unknown
// names so that a misspelt parameter is an error and not a silent default.
func decodeParams(raw json.RawMessage, dst any) error {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.DisallowUnknownFields()
	if err := d.Decode(dst); err != nil {
		return fmt.Errorf("params: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	return nil
}

// r2 is the coefficient of determination, as scikit-learn's r2_score: a
// constant target gives 1 for a perfect prediction and 0 otherwise, instead
// of a division by zero.
func r2(pred, y []float64) float64 {
	if stat.Variance(y, nil) == 0 || len(y) < 2 {
		if floats.EqualApprox(pred, y, 0) {
			return 1
		}
		return 0
	}
	return stat.RSquaredFrom(pred, y, nil)
}

// accuracy is the fraction of predictions equal to the labels.
func accuracy(pred, y []float64) float64 {
	n := 0
	for i := range y {
		if pred[i] == y[i] {
			n++
		}
	}
	return float64(n) / float64(len(y))
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
