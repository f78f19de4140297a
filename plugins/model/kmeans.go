package model

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat"
)

// kmeans is k-means clustering (Lloyd's algorithm from k-means++ seeds, the
// best of n_init runs by inertia). The centres are sorted, so the labels of
// a fit do not depend on the order the runs found them in.
type kmeans struct {
	P kmeansParams
	F kmeansFit
}

type kmeansParams struct {
	NClusters   *int     `json:"n_clusters,omitempty"`
	NInit       *int     `json:"n_init,omitempty"`
	MaxIter     *int     `json:"max_iter,omitempty"`
	Tol         *float64 `json:"tol,omitempty"` // relative to the mean variance of the columns, as scikit-learn
	RandomState *uint64  `json:"random_state,omitempty"`
}

type kmeansFit struct {
	Centers [][]float64 `json:"centers"`
	Inertia float64     `json:"inertia"`
	Iter    int         `json:"iterations"`
}

func newKMeans() estimator {
	k, ninit, it, tol, seed := 8, 10, 300, 1e-4, uint64(0)
	return &kmeans{P: kmeansParams{NClusters: &k, NInit: &ninit, MaxIter: &it, Tol: &tol, RandomState: &seed}}
}

func (m *kmeans) params() any      { return &m.P }
func (m *kmeans) fitted() any      { return &m.F }
func (m *kmeans) supervised() bool { return false }
func (m *kmeans) metric() string   { return "neg_inertia" }

func (m *kmeans) fit(ctx context.Context, xt, _ *table) error {
	k := *m.P.NClusters
	switch {
	case k < 1:
		return fmt.Errorf("params: n_clusters must be >= 1, got %d", k)
	case k > xt.rows:
		return fmt.Errorf("params: n_clusters = %d but X has only %d rows", k, xt.rows)
	case *m.P.NInit < 1:
		return fmt.Errorf("params: n_init must be >= 1, got %d", *m.P.NInit)
	case *m.P.MaxIter < 1:
		return fmt.Errorf("params: max_iter must be >= 1, got %d", *m.P.MaxIter)
	}
	x := xt.matrix()
	var meanVar float64
	for j := range xt.cols {
		meanVar += stat.Variance(mat.Col(nil, j, x), nil)
	}
	tol := *m.P.Tol * meanVar / float64(xt.cols)

	rng := rand.New(rand.NewPCG(*m.P.RandomState, 0x6f6d70))
	best := math.Inf(1)
	for range *m.P.NInit {
		if err := ctx.Err(); err != nil {
			return err
		}
		centers, iter := m.lloyd(x, m.seed(x, k, rng), tol)
		if in := inertia(x, centers); in < best {
			best = in
			m.F = kmeansFit{Centers: centers, Inertia: in, Iter: iter}
		}
	}
	slices.SortFunc(m.F.Centers, slices.Compare)
	return nil
}

// seed picks k rows by k-means++: each next centre with probability
// proportional to its squared distance from the nearest centre so far.
func (m *kmeans) seed(x *mat.Dense, k int, rng *rand.Rand) [][]float64 {
	n, _ := x.Dims()
	centers := [][]float64{slices.Clone(x.RawRowView(rng.IntN(n)))}
	d2 := make([]float64, n)
	for len(centers) < k {
		for i := range n {
			_, d := nearest(centers, x.RawRowView(i))
			d2[i] = d * d
		}
		total := floats.Sum(d2)
		pick := n - 1
		if total > 0 {
			r := rng.Float64() * total
			for i, d := range d2 {
				if r -= d; r < 0 {
					pick = i
					break
				}
			}
		} else {
			pick = rng.IntN(n) // all rows coincide with a centre
		}
		centers = append(centers, slices.Clone(x.RawRowView(pick)))
	}
	return centers
}

func (m *kmeans) lloyd(x *mat.Dense, centers [][]float64, tol float64) ([][]float64, int) {
	n, p := x.Dims()
	k := len(centers)
	label := make([]int, n)
	iter := 0
	for iter < *m.P.MaxIter {
		iter++
		for i := range n {
			label[i], _ = nearest(centers, x.RawRowView(i))
		}
		next := make([][]float64, k)
		count := make([]int, k)
		for c := range next {
			next[c] = make([]float64, p)
		}
		for i := range n {
			floats.Add(next[label[i]], x.RawRowView(i))
			count[label[i]]++
		}
		for c := range next {
			if count[c] == 0 {
				// An empty cluster restarts at the row farthest from its centre.
				far, fd := 0, -1.0
				for i := range n {
					if d := floats.Distance(x.RawRowView(i), centers[label[i]], 2); d > fd {
						far, fd = i, d
					}
				}
				copy(next[c], x.RawRowView(far))
				continue
			}
			floats.Scale(1/float64(count[c]), next[c])
		}
		var shift float64
		for c := range centers {
			d := floats.Distance(centers[c], next[c], 2)
			shift += d * d
		}
		centers = next
		if shift <= tol {
			break
		}
	}
	return centers, iter
}

func nearest(centers [][]float64, row []float64) (int, float64) {
	best, bd := 0, math.Inf(1)
	for c, ctr := range centers {
		if d := floats.Distance(row, ctr, 2); d < bd {
			best, bd = c, d
		}
	}
	return best, bd
}

func inertia(x *mat.Dense, centers [][]float64) float64 {
	n, _ := x.Dims()
	var s float64
	for i := range n {
		_, d := nearest(centers, x.RawRowView(i))
		s += d * d
	}
	return s
}

func (m *kmeans) predict(xt *table) []float64 {
	x := xt.matrix()
	out := make([]float64, xt.rows)
	for i := range out {
		c, _ := nearest(m.F.Centers, x.RawRowView(i))
		out[i] = float64(c)
	}
	return out
}

// score is minus the inertia of x, as scikit-learn's KMeans.score: higher is
// better, like every other score.
func (m *kmeans) score(xt, _ *table) float64 { return -inertia(xt.matrix(), m.F.Centers) }

// transform returns each row's distance to every centre.
func (m *kmeans) transform(xt *table) ([][]float64, error) {
	x := xt.matrix()
	out := make([][]float64, xt.rows)
	for i := range out {
		out[i] = make([]float64, len(m.F.Centers))
		for c, ctr := range m.F.Centers {
			out[i][c] = floats.Distance(x.RawRowView(i), ctr, 2)
		}
	}
	return out, nil
}
