package runs

import (
	"context"
	"path/filepath"
	"testing"
)

// TestSQLiteWriterTempStore: the writing connection keeps its temporary
// files (the statement journal of a batch's INSERTs) in memory; the
// readers keep SQLite's default, whose large sorts may spill to disk.
func TestSQLiteWriterTempStore(t *testing.T) {
	ctx := context.Background()
	s, err := openSQLite(ctx, filepath.Join(t.TempDir(), "omp.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var w, r int
	if err := s.w.QueryRowContext(ctx, "PRAGMA temp_store").Scan(&w); err != nil {
		t.Fatal(err)
	}
	if err := s.r.QueryRowContext(ctx, "PRAGMA temp_store").Scan(&r); err != nil {
		t.Fatal(err)
	}
	if w != 2 || r != 0 {
		t.Errorf("temp_store: writer %d, readers %d; want 2 (memory) and 0 (default)", w, r)
	}
}
