package model

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ompdev/omp/plugins/sdk"
	"github.com/ompdev/omp/store"
)

// version is one fit of a model, stored as models/NAME/VERSION.json. It holds
// everything predict and score need, so a version keeps working when the
// declaration in models/NAME.json changes later.
type version struct {
	Model    string          `json:"model"`
	Version  string          `json:"version"`
	Type     string          `json:"type"`
	Class    string          `json:"class,omitempty"`  // sklearn
	Params   json.RawMessage `json:"params,omitempty"` // with defaults filled in for Go types
	Fitted   json.RawMessage `json:"fitted"`
	Features []string        `json:"features"`         // X's columns
	Target   string          `json:"target,omitempty"` // Y's column
	Data     []dataRef       `json:"data"`
	FittedAt time.Time       `json:"fitted_at"`
	Score    scoreRecord     `json:"training_score"`

	Pickle         string `json:"pickle,omitempty"` // sklearn: the object holding the pickled estimator
	SklearnVersion string `json:"sklearn_version,omitempty"`
	Python         string `json:"python,omitempty"`
}

type scoreRecord struct {
	Metric string   `json:"metric"`
	Value  *float64 `json:"value"` // null for an estimator without a score
}

// versionLayout sorts as text in time order: fixed width, UTC, nanoseconds.
const versionLayout = "20060102T150405.000000000Z"

// newVersionID names a new version. The random suffix keeps two fits that
// start in the same nanosecond (on two workers) apart.
func newVersionID(now time.Time) string {
	var b [3]byte
	rand.Read(b[:])
	return now.UTC().Format(versionLayout) + "-" + hex.EncodeToString(b[:])
}

func versionsDir(model string) string { return "models/" + model + "/" }

func versionObject(model, v string) string { return versionsDir(model) + v + ".json" }

// claimVersion returns a version ID not yet used by the model. IDs are
// unique by construction; the existence check only guards against a clock
// that went backwards onto a used nanosecond with the same suffix.
func claimVersion(ctx context.Context, st *store.Store, model string) (string, error) {
	for {
		v := newVersionID(time.Now())
		ok, err := st.Exists(ctx, versionObject(model, v))
		if err != nil {
			return "", err
		}
		if !ok {
			return v, nil
		}
	}
}

// versions lists the model's versions, oldest first.
func versions(ctx context.Context, st *store.Store, model string) ([]string, error) {
	objs, err := st.List(ctx, versionsDir(model))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, o := range objs {
		rest := strings.TrimPrefix(o.Name, versionsDir(model))
		if v, ok := strings.CutSuffix(rest, ".json"); ok && !strings.Contains(v, "/") {
			out = append(out, v)
		}
	}
	return out, nil
}

// loadVersion reads the version want of model, or the latest when want is
// empty. want may be a unique prefix of a version.
func loadVersion(ctx context.Context, st *store.Store, model, want string) (*version, error) {
	vs, err := versions(ctx, st, model)
	if err != nil {
		return nil, err
	}
	if len(vs) == 0 {
		return nil, sdk.Permanent(fmt.Errorf("%s is not fitted: no versions in %s of store %s; run %s.fit first",
			model, versionsDir(model), st.Location(), model))
	}
	v := vs[len(vs)-1]
	if want != "" {
		var match []string
		for _, c := range vs {
			if c == want {
				match = []string{c}
				break
			}
			if strings.HasPrefix(c, want) {
				match = append(match, c)
			}
		}
		switch len(match) {
		case 0:
			return nil, sdk.Permanent(fmt.Errorf("%s has no version %q (latest is %s)", model, want, v))
		case 1:
			v = match[0]
		default:
			return nil, sdk.Permanent(fmt.Errorf("version %q of %s is ambiguous: %d versions start with it", want, model, len(match)))
		}
	}
	data, err := st.Get(ctx, versionObject(model, v))
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			err = sdk.Permanent(err)
		}
		return nil, err
	}
	var rec version
	if err := json.Unmarshal(data, &rec); err != nil {
		return nil, sdk.Permanent(fmt.Errorf("%s: %w", versionObject(model, v), err))
	}
	return &rec, nil
}
