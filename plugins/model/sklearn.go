package model

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/ompdev/omp/plugins/sdk"
)

//go:embed sklearn_bridge.py
var sklearnHelper string

// sklearnRequest and sklearnReply are the helper's protocol (sklearn_bridge.py).
type sklearnRequest struct {
	Action string          `json:"action"`
	Class  string          `json:"class,omitempty"`
	Params json.RawMessage `json:"params,omitempty"`
	X      [][]float64     `json:"X"`
	Y      []float64       `json:"Y,omitempty"`
	Pickle string          `json:"pickle,omitempty"`
}

type sklearnReply struct {
	Error       string          `json:"error"`
	Missing     string          `json:"missing"`
	Pickle      string          `json:"pickle"`
	Fitted      json.RawMessage `json:"fitted"`
	Metric      string          `json:"metric"`
	Score       *float64        `json:"score"`
	Supervised  bool            `json:"supervised"`
	Predictions []float64       `json:"predictions"`
	Rows        [][]float64     `json:"rows"`
	Version     string          `json:"sklearn_version"`
	Python      string          `json:"python"`
	Warnings    []string        `json:"warnings"`
}

// python returns the interpreter every kind uses: $OMP_PYTHON, else python3
// on PATH.
func python() (string, error) {
	if p := os.Getenv("OMP_PYTHON"); p != "" {
		path, err := exec.LookPath(p)
		if err != nil {
			return "", sdk.Permanent(fmt.Errorf("OMP_PYTHON=%s: no such Python", p))
		}
		return path, nil
	}
	path, err := exec.LookPath("python3")
	if err != nil {
		return "", sdk.Permanent(errors.New("sklearn models need Python: python3 is not on PATH and OMP_PYTHON is not set"))
	}
	return path, nil
}

// runSklearn sends one request to the helper in a fresh Python process.
func runSklearn(ctx context.Context, e sdk.Emitter, req *sklearnRequest) (*sklearnReply, error) {
	py, err := python()
	if err != nil {
		return nil, err
	}
	in, err := json.Marshal(req)
	if err != nil {
		return nil, sdk.Permanent(err)
	}
	cmd := exec.CommandContext(ctx, py, "-c", sklearnHelper)
	cmd.Stdin = bytes.NewReader(in)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	var rep sklearnReply
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		// The helper died before it could reply (killed, out of memory, a
		// Python too old to run it): show the last line it wrote.
		last := strings.TrimSpace(stderr.String())
		if i := strings.LastIndexByte(last, '\n'); i >= 0 {
			last = last[i+1:]
		}
		if last == "" && runErr != nil {
			last = runErr.Error()
		}
		return nil, fmt.Errorf("%s: sklearn helper failed: %s", py, last)
	}
	for _, w := range rep.Warnings {
		e.Log("sklearn warning: " + w)
	}
	if rep.Missing != "" {
		return nil, sdk.Permanent(fmt.Errorf("%s %s; install python3-%s (Debian) or set OMP_PYTHON to a Python that has %s",
			py, rep.Error, rep.Missing, rep.Missing))
	}
	if rep.Error != "" {
		return nil, sdk.Permanent(errors.New(rep.Error))
	}
	if runErr != nil {
		return nil, fmt.Errorf("%s: sklearn helper: %w", py, runErr)
	}
	return &rep, nil
}

func rowsOf(t *table) [][]float64 {
	out := make([][]float64, t.rows)
	for i := range out {
		out[i] = t.data[i*t.cols : (i+1)*t.cols]
	}
	return out
}

func pickleObject(model, v string) string { return versionsDir(model) + v + ".pkl" }

// sklearnFit fits through the helper and stores the pickled estimator. The
// pickle is written before the version record, so a version that predict can
// see always has its estimator.
func (c *call) sklearnFit(ctx context.Context, d *declaration, rec *version, x, y *table) error {
	req := &sklearnRequest{Action: "fit", Class: d.Class, Params: d.Params, X: rowsOf(x)}
	if y != nil {
		req.Y = y.vector()
	}
	rep, err := runSklearn(ctx, c.e, req)
	if err != nil {
		return err
	}
	pkl, err := base64.StdEncoding.DecodeString(rep.Pickle)
	if err != nil {
		return fmt.Errorf("sklearn helper: pickle: %w", err)
	}
	rec.Class, rec.Params, rec.Fitted = d.Class, d.Params, rep.Fitted
	rec.Score = scoreRecord{Metric: rep.Metric, Value: rep.Score}
	rec.SklearnVersion, rec.Python = rep.Version, rep.Python
	rec.Pickle = pickleObject(rec.Model, rec.Version)
	return c.st.Put(ctx, rec.Pickle, pkl)
}

// sklearnModel is a fitted sklearn version.
type sklearnModel struct {
	c      *call
	rec    *version
	pickle string // base64, loaded on first use
}

func (m *sklearnModel) supervised() bool { return m.rec.Target != "" }

func (m *sklearnModel) request(ctx context.Context, action string, x, y *table) (*sklearnReply, error) {
	if m.pickle == "" {
		pkl, err := m.c.st.Get(ctx, m.rec.Pickle)
		if err != nil {
			return nil, err
		}
		m.pickle = base64.StdEncoding.EncodeToString(pkl)
	}
	req := &sklearnRequest{Action: action, X: rowsOf(x), Pickle: m.pickle}
	if y != nil {
		req.Y = y.vector()
	}
	return runSklearn(ctx, m.c.e, req)
}

func (m *sklearnModel) predict(ctx context.Context, x *table) ([]float64, error) {
	rep, err := m.request(ctx, "predict", x, nil)
	if err != nil {
		return nil, err
	}
	if len(rep.Predictions) != x.rows {
		return nil, sdk.Permanent(fmt.Errorf("%s returned %d predictions for %d rows", m.rec.Class, len(rep.Predictions), x.rows))
	}
	return rep.Predictions, nil
}

func (m *sklearnModel) transform(ctx context.Context, x *table) ([][]float64, error) {
	rep, err := m.request(ctx, "transform", x, nil)
	if err != nil {
		return nil, err
	}
	return rep.Rows, nil
}

func (m *sklearnModel) score(ctx context.Context, x, y *table) (float64, string, error) {
	rep, err := m.request(ctx, "score", x, y)
	if err != nil {
		return 0, "", err
	}
	if rep.Score == nil {
		return 0, "", sdk.Permanent(fmt.Errorf("%s returned no score", m.rec.Class))
	}
	return *rep.Score, rep.Metric, nil
}
