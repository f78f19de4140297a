package model

import (
	"context"
	"errors"
	"testing"
)

func TestCancelledFit(t *testing.T) {
	var rows [][]float64
	var labels []float64
	for i := range 400 {
		a, b := float64(i%37)/7, float64(i%23)/5
		rows = append(rows, []float64{a, b, a * b})
		labels = append(labels, float64(i%3))
	}
	x, err := inlineTable("X", toAny(rows))
	if err != nil {
		t.Fatal(err)
	}
	y, err := inlineTable("Y", toAny(labels))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for name, est := range map[string]estimator{"logistic": newLogistic(), "kmeans": newKMeans()} {
		if err := est.fit(ctx, x, y); !errors.Is(err, context.Canceled) {
			t.Errorf("%s: fit with a cancelled context returned %v, want context.Canceled", name, err)
		}
	}
	// Through the kind, a cancelled fit stores no version.
	dir := newStore(t, map[string]string{"models/log.json": `{"type": "logistic-regression"}`})
	if _, err := (Kind{}).Run(ctx, task(dir, "log", "fit", []any{rows, labels}, nil), &emitter{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Run: %v, want context.Canceled", err)
	}
	vs, err := versions(context.Background(), openStore(t, dir), "log")
	if err != nil || len(vs) != 0 {
		t.Errorf("a cancelled fit stored versions %v (%v)", vs, err)
	}
}

// toAny turns rows or a column into what inlineTable gets from JSON.
func toAny[T any](v []T) []any {
	out := make([]any, len(v))
	for i, x := range v {
		switch x := any(x).(type) {
		case []float64:
			out[i] = toAny(x)
		case float64:
			out[i] = jsonNumber(x)
		}
	}
	return out
}
