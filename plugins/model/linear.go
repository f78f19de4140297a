package model

import (
	"context"
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat"
)

// linear is ordinary least squares ("linear-regression") or, with ridge set,
// L2-regularised least squares. Both follow scikit-learn: the intercept is
// fitted on centred data and never penalised.
type linear struct {
	ridge bool
	P     linearParams
	F     linearFit
}

type linearParams struct {
	FitIntercept *bool    `json:"fit_intercept,omitempty"`
	Alpha        *float64 `json:"alpha,omitempty"` // ridge only
}

type linearFit struct {
	Coef      []float64 `json:"coef"`
	Intercept float64   `json:"intercept"`
	Rank      int       `json:"rank,omitempty"` // linear-regression: rank of the centred X
}

func newLinear(ridge bool) estimator {
	t, one := true, 1.0
	l := &linear{ridge: ridge}
	l.P.FitIntercept = &t
	if ridge {
		l.P.Alpha = &one
	}
	return l
}

func (l *linear) params() any      { return &l.P }
func (l *linear) fitted() any      { return &l.F }
func (l *linear) supervised() bool { return true }
func (l *linear) metric() string   { return "r2" }

func (l *linear) check() error {
	if !l.ridge && l.P.Alpha != nil {
		return errors.New("params: alpha is a ridge parameter; linear-regression has none")
	}
	if l.ridge && (*l.P.Alpha < 0 || !finite(*l.P.Alpha)) {
		return fmt.Errorf("params: alpha must be >= 0, got %g", *l.P.Alpha)
	}
	return nil
}

func (l *linear) fit(_ context.Context, xt, yt *table) error {
	if err := l.check(); err != nil {
		return err
	}
	x, y := xt.matrix(), mat.NewVecDense(yt.rows, yt.vector())
	n, p := x.Dims()

	// Centre X and y so that the intercept drops out of the system:
	// b = mean(y) - mean(X)·w afterwards.
	xmean := make([]float64, p)
	var ymean float64
	if *l.P.FitIntercept {
		for j := range p {
			xmean[j] = stat.Mean(mat.Col(nil, j, x), nil)
		}
		ymean = stat.Mean(yt.vector(), nil)
	}
	var xc mat.Dense
	xc.Outer(1, onesVec(n), mat.NewVecDense(p, xmean))
	xc.Sub(x, &xc)
	var yc mat.VecDense
	yc.AddScaledVec(y, -ymean, onesVec(n))

	w := mat.NewVecDense(p, nil)
	if l.ridge && *l.P.Alpha > 0 {
		// (XcᵀXc + αI) w = Xcᵀyc, symmetric positive definite for α > 0.
		var a mat.SymDense
		a.SymOuterK(1, xc.T())
		for j := range p {
			a.SetSym(j, j, a.At(j, j)+*l.P.Alpha)
		}
		var ch mat.Cholesky
		if !ch.Factorize(&a) {
			return errors.New("ridge: XᵀX + alpha·I is not positive definite")
		}
		var b mat.VecDense
		b.MulVec(xc.T(), &yc)
		if err := ch.SolveVecTo(w, &b); err != nil {
			return fmt.Errorf("ridge: %w", err)
		}
	} else {
		// Minimum-norm least squares through the SVD, as LAPACK's gelsd
		// behind numpy.linalg.lstsq and scikit-learn: a rank-deficient X
		// (a duplicated column) still has a well-defined answer.
		var svd mat.SVD
		if !svd.Factorize(&xc, mat.SVDThin) {
			return errors.New("least squares: SVD did not converge")
		}
		rcond := math.Nextafter(1, 2) - 1
		rcond *= float64(max(n, p))
		l.F.Rank = svd.Rank(rcond)
		if l.F.Rank == 0 {
			// Every column is constant: the best fit is the mean.
			w.Zero()
		} else {
			svd.SolveVecTo(w, &yc, l.F.Rank)
		}
	}
	l.F.Coef = mat.Col(nil, 0, w)
	l.F.Intercept = ymean - floats.Dot(xmean, l.F.Coef)
	return nil
}

func (l *linear) predict(xt *table) []float64 {
	var out mat.VecDense
	out.MulVec(xt.matrix(), mat.NewVecDense(len(l.F.Coef), l.F.Coef))
	pred := mat.Col(nil, 0, &out)
	floats.AddConst(l.F.Intercept, pred)
	return pred
}

func (l *linear) score(x, y *table) float64 { return r2(l.predict(x), y.vector()) }

func (l *linear) transform(*table) ([][]float64, error) { return nil, errNoTransform }

func onesVec(n int) *mat.VecDense {
	v := mat.NewVecDense(n, nil)
	for i := range n {
		v.SetVec(i, 1)
	}
	return v
}
