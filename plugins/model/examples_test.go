package model

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// exampleStore copies examples/models and examples/datasets into a fresh
// store, so that fitting them does not write into the repository.
func exampleStore(t *testing.T) string {
	t.Helper()
	files := map[string]string{}
	for _, sub := range []string{"models", "datasets"} {
		ents, err := os.ReadDir(filepath.Join("..", "..", "examples", sub))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if e.IsDir() || !(strings.HasSuffix(e.Name(), ".json") || strings.HasSuffix(e.Name(), ".csv")) {
				continue
			}
			data, err := os.ReadFile(filepath.Join("..", "..", "examples", sub, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			files[sub+"/"+e.Name()] = string(data)
		}
	}
	return newStore(t, files)
}

// TestExamples fits the example models on the example data sets as the ML
// example pipeline does, and checks that they learn what the data holds.
func TestExamples(t *testing.T) {
	dir := exampleStore(t)
	tests := []struct {
		model          string
		x, y           string
		testX, testY   string
		minTrain, minS float64
	}{
		{"linreg", "train-X", "train-price", "test-X", "test-price", 0.95, 0.9},
		{"ridge", "train-X", "train-rent", "test-X", "test-rent", 0.9, 0.85},
		{"linreg", "houses:sqm,rooms,age", "houses:rent", "houses-test:sqm,rooms,age", "houses-test:rent", 0.9, 0.85},
		{"logreg", "iris-X", "iris-Y", "iris-test-X", "iris-test-Y", 0.9, 0.8},
	}
	for _, tc := range tests {
		t.Run(tc.model+" "+tc.y, func(t *testing.T) {
			res, _ := run(t, task(dir, tc.model, "fit", []any{tc.x, tc.y}, nil))
			if s := res.(map[string]any)["score"].(float64); s < tc.minTrain {
				t.Errorf("training score %v < %v", s, tc.minTrain)
			}
			res, _ = run(t, task(dir, tc.model, "score", []any{tc.testX, tc.testY}, nil))
			if s := res.(float64); s < tc.minS {
				t.Errorf("test score %v < %v", s, tc.minS)
			}
			t.Logf("%s on %s: test score %.4f", tc.model, tc.y, res)
		})
	}
	t.Run("kmeans", func(t *testing.T) {
		run(t, task(dir, "kmeans", "fit", []any{"iris-X"}, nil))
		res, _ := run(t, task(dir, "kmeans", "predict", []any{"iris-test-X"}, map[string]any{"into": "clusters"}))
		if res.(map[string]any)["rows"] != 15.0 {
			t.Errorf("predict into = %v", res)
		}
	})
}

func TestExamplesSklearn(t *testing.T) {
	withSklearn(t)
	dir := exampleStore(t)
	for _, m := range []string{"sk-logreg", "sk-forest"} {
		t.Run(m, func(t *testing.T) {
			run(t, task(dir, m, "fit", []any{"iris-X", "iris-Y"}, nil))
			res, _ := run(t, task(dir, m, "score", []any{"iris-test-X", "iris-test-Y"}, nil))
			if s := res.(float64); s < 0.8 {
				t.Errorf("test accuracy %v < 0.8", s)
			}
			t.Logf("%s: test accuracy %.4f", m, res)
		})
	}
}
