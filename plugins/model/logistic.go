package model

import (
	"context"
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/optimize"
)

// logistic is L2-regularised logistic regression as scikit-learn's
// LogisticRegression with the lbfgs solver: it minimises
//
//	C·Σᵢ loss(xᵢ, yᵢ) + ½‖W‖²
//
// (the intercept unpenalised), with the binomial loss for two classes and
// the multinomial (softmax) loss for more. The objective is strictly convex,
// so the optimum does not depend on the optimiser.
type logistic struct {
	P logisticParams
	F logisticFit
}

type logisticParams struct {
	C            *float64 `json:"C,omitempty"`
	FitIntercept *bool    `json:"fit_intercept,omitempty"`
	MaxIter      *int     `json:"max_iter,omitempty"`
	Tol          *float64 `json:"tol,omitempty"` // on the max-norm of the gradient of the per-row objective
}

type logisticFit struct {
	Classes []float64 `json:"classes"`
	// Coef has one row for two classes (the second class's log-odds) and one
	// row per class for more, as scikit-learn's coef_.
	Coef      [][]float64 `json:"coef"`
	Intercept []float64   `json:"intercept"`
	Iter      int         `json:"iterations"`
	Converged bool        `json:"converged"`
}

func newLogistic() estimator {
	c, t, it, tol := 1.0, true, 1000, 1e-8
	return &logistic{P: logisticParams{C: &c, FitIntercept: &t, MaxIter: &it, Tol: &tol}}
}

func (l *logistic) params() any      { return &l.P }
func (l *logistic) fitted() any      { return &l.F }
func (l *logistic) supervised() bool { return true }
func (l *logistic) metric() string   { return "accuracy" }

func (l *logistic) fit(ctx context.Context, xt, yt *table) error {
	switch {
	case !(*l.P.C > 0) || !finite(*l.P.C):
		return fmt.Errorf("params: C must be > 0, got %g", *l.P.C)
	case *l.P.MaxIter < 1:
		return fmt.Errorf("params: max_iter must be >= 1, got %d", *l.P.MaxIter)
	case !(*l.P.Tol > 0):
		return fmt.Errorf("params: tol must be > 0, got %g", *l.P.Tol)
	}
	classes := slices.Clone(yt.vector())
	slices.Sort(classes)
	classes = slices.Compact(classes)
	if len(classes) < 2 {
		return fmt.Errorf("Y has one class (%g); logistic regression needs at least two", classes[0])
	}
	x := xt.matrix()
	n, p := x.Dims()
	k := len(classes)
	if k == 2 {
		k = 1
	}
	// target[i][c] is 1 where row i belongs to output c.
	target := mat.NewDense(n, k, nil)
	for i, v := range yt.vector() {
		c, _ := slices.BinarySearch(classes, v)
		if k == 1 {
			target.Set(i, 0, float64(c))
		} else {
			target.Set(i, c, 1)
		}
	}
	obj := &logObjective{x: x, target: target, k: k, p: p, n: float64(n),
		lambda: 1 / (*l.P.C * float64(n)), intercept: *l.P.FitIntercept}
	prob := optimize.Problem{Func: obj.f, Grad: obj.grad}
	settings := &optimize.Settings{
		GradientThreshold: *l.P.Tol,
		MajorIterations:   *l.P.MaxIter,
		Converger:         ctxConverger{ctx},
	}
	init := make([]float64, k*p+k)
	res, err := optimize.Minimize(prob, init, settings, &optimize.LBFGS{})
	if err := ctx.Err(); err != nil {
		return err
	}
	if res == nil {
		return fmt.Errorf("logistic regression: optimiser: %w", err)
	}
	converged := res.Status == optimize.GradientThreshold
	if err != nil {
		// Near the optimum the line search may fail to improve on rounding
		// noise; that point is as good as the optimiser can do.
		g := make([]float64, len(res.X))
		obj.grad(g, res.X)
		if floats.Norm(g, math.Inf(1)) > 1e3**l.P.Tol {
			return fmt.Errorf("logistic regression: optimiser: %w", err)
		}
		converged = true
	}
	l.F = logisticFit{Classes: classes, Iter: res.Stats.MajorIterations, Converged: converged}
	for c := range k {
		l.F.Coef = append(l.F.Coef, slices.Clone(res.X[c*p:(c+1)*p]))
	}
	l.F.Intercept = slices.Clone(res.X[k*p:])
	return nil
}

// ctxConverger stops the optimiser when the task is cancelled; convergence
// itself is left to the gradient threshold.
type ctxConverger struct{ ctx context.Context }

func (ctxConverger) Init(int) {}

func (c ctxConverger) Converged(*optimize.Location) optimize.Status {
	if c.ctx.Err() != nil {
		return optimize.RuntimeLimit
	}
	return optimize.NotTerminated
}

// warnings reports what a user should know about the fit.
func (l *logistic) warnings() []string {
	if l.F.Converged {
		return nil
	}
	return []string{fmt.Sprintf("logistic regression did not converge in %d iterations (max_iter); the coefficients are approximate", l.F.Iter)}
}

// logObjective is the objective divided by C·n, so that the gradient
// threshold means the same for any number of rows.
type logObjective struct {
	x, target *mat.Dense
	k, p      int
	n, lambda float64
	intercept bool
}

// unpack views the parameter vector as W (k×p) and b (k).
func (o *logObjective) unpack(theta []float64) (*mat.Dense, []float64) {
	return mat.NewDense(o.k, o.p, theta[:o.k*o.p]), theta[o.k*o.p:]
}

// scores returns Z = X·Wᵀ + b.
func (o *logObjective) scores(theta []float64) *mat.Dense {
	w, b := o.unpack(theta)
	var z mat.Dense
	z.Mul(o.x, w.T())
	if o.intercept {
		r, _ := z.Dims()
		for i := range r {
			floats.Add(z.RawRowView(i), b)
		}
	}
	return &z
}

func (o *logObjective) f(theta []float64) float64 {
	z := o.scores(theta)
	r, _ := z.Dims()
	var loss float64
	for i := range r {
		zi, ti := z.RawRowView(i), o.target.RawRowView(i)
		if o.k == 1 {
			loss += softplus(zi[0]) - ti[0]*zi[0]
		} else {
			loss += floats.LogSumExp(zi) - floats.Dot(zi, ti)
		}
	}
	w, _ := o.unpack(theta)
	return loss/o.n + o.lambda/2*mat.Norm(w, 2)*mat.Norm(w, 2)
}

func (o *logObjective) grad(dst, theta []float64) {
	z := o.scores(theta)
	r, _ := z.Dims()
	// Turn Z into the residual P − T row by row.
	for i := range r {
		zi, ti := z.RawRowView(i), o.target.RawRowView(i)
		if o.k == 1 {
			zi[0] = sigmoid(zi[0]) - ti[0]
		} else {
			lse := floats.LogSumExp(zi)
			for c := range zi {
				zi[c] = math.Exp(zi[c]-lse) - ti[c]
			}
		}
	}
	w, _ := o.unpack(theta)
	gw := mat.NewDense(o.k, o.p, dst[:o.k*o.p])
	gw.Mul(z.T(), o.x)
	gw.Scale(1/o.n, gw)
	gw.Add(gw, scaled(o.lambda, w))
	gb := dst[o.k*o.p:]
	for c := range o.k {
		gb[c] = 0
		if o.intercept {
			gb[c] = floats.Sum(mat.Col(nil, c, z)) / o.n
		}
	}
}

func scaled(a float64, m mat.Matrix) *mat.Dense {
	var d mat.Dense
	d.Scale(a, m)
	return &d
}

// softplus is log(1+eᶻ) without overflow.
func softplus(z float64) float64 {
	if z > 0 {
		return z + math.Log1p(math.Exp(-z))
	}
	return math.Log1p(math.Exp(z))
}

func sigmoid(z float64) float64 {
	if z >= 0 {
		return 1 / (1 + math.Exp(-z))
	}
	e := math.Exp(z)
	return e / (1 + e)
}

func (l *logistic) decision(xt *table) *mat.Dense {
	k := len(l.F.Coef)
	theta := make([]float64, 0, k*xt.cols+k)
	for _, row := range l.F.Coef {
		theta = append(theta, row...)
	}
	theta = append(theta, l.F.Intercept...)
	o := &logObjective{x: xt.matrix(), k: k, p: xt.cols, intercept: true}
	return o.scores(theta)
}

func (l *logistic) predict(xt *table) []float64 {
	z := l.decision(xt)
	out := make([]float64, xt.rows)
	for i := range out {
		zi := z.RawRowView(i)
		if len(zi) == 1 {
			// As scikit-learn: a score of exactly 0 goes to the first class.
			if zi[0] > 0 {
				out[i] = l.F.Classes[1]
			} else {
				out[i] = l.F.Classes[0]
			}
		} else {
			out[i] = l.F.Classes[floats.MaxIdx(zi)]
		}
	}
	return out
}

func (l *logistic) score(x, y *table) float64 { return accuracy(l.predict(x), y.vector()) }

func (l *logistic) transform(*table) ([][]float64, error) { return nil, errNoTransform }
