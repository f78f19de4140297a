package runs_test

import (
	"testing"

	"github.com/ompdev/omp/runs"
)

func openStore(t testing.TB, url string) runs.Store {
	t.Helper()
	s, err := runs.Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}
