package runs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

func (s *sqlStore) ClaimTick(ctx context.Context, t Tick, skipOverlap bool) (bool, string, error) {
	if t.Claimed.IsZero() {
		t.Claimed = time.Now()
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return false, "", err
	}
	defer tx.Rollback()
	outcome := TickFired
	if skipOverlap {
		// A fired tick whose run is still running, or which its server
		// has not yet given a run (and recently claimed: a server killed
		// between the claim and the run does not block the pipeline for
		// ever).
		cutoff := t.Claimed.Add(-LostAfter).UnixNano()
		var n int
		err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM ticks LEFT JOIN runs ON runs.id = ticks.run_id
			WHERE ticks.file = $1 AND ticks.pipeline = $2 AND ticks.outcome = 'fired' AND ticks.tick_at < $3
			AND ((ticks.run_id IS NULL AND ticks.claimed_at > $4)
				OR (runs.status = 'RUNNING' AND runs.heartbeat_at > $4))`,
			clean(t.File, t.Pipeline, t.At.UnixNano(), cutoff)...).Scan(&n)
		if err != nil {
			return false, "", err
		}
		if n > 0 {
			outcome = TickSkipped
		}
	}
	// The primary key (file, pipeline, tick_at) decides: whichever
	// transaction inserts first has the tick; the others insert nothing.
	res, err := tx.ExecContext(ctx, `INSERT INTO ticks (file, pipeline, tick_at, outcome, run_id, server, claimed_at)
		VALUES ($1, $2, $3, $4, NULL, $5, $6) ON CONFLICT (file, pipeline, tick_at) DO NOTHING`,
		clean(t.File, t.Pipeline, t.At.UnixNano(), outcome, t.Server, t.Claimed.UnixNano())...)
	if err != nil {
		return false, "", err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, "", err
	}
	if err := tx.Commit(); err != nil {
		return false, "", err
	}
	if n == 0 {
		return false, "", nil
	}
	return true, outcome, nil
}

func (s *sqlStore) SetTickRun(ctx context.Context, file, pipeline string, at time.Time, runID string) error {
	res, err := s.w.ExecContext(ctx, `UPDATE ticks SET run_id = $4 WHERE file = $1 AND pipeline = $2 AND tick_at = $3`,
		clean(file, pipeline, at.UnixNano(), runID)...)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return fmt.Errorf("no tick %s of %s in %s", at.UTC().Format(time.RFC3339), pipeline, file)
	}
	return nil
}

func (s *sqlStore) LastTick(ctx context.Context, file, pipeline string) (time.Time, bool, error) {
	var at sql.NullInt64
	err := s.r.QueryRowContext(ctx, `SELECT MAX(tick_at) FROM ticks WHERE file = $1 AND pipeline = $2`,
		clean(file, pipeline)...).Scan(&at)
	if errors.Is(err, sql.ErrNoRows) || err == nil && !at.Valid {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, err
	}
	return time.Unix(0, at.Int64), true, nil
}

func (s *sqlStore) Ticks(ctx context.Context, file, pipeline string) ([]Tick, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT file, pipeline, tick_at, outcome, run_id, server, claimed_at FROM ticks
		WHERE ($1 = '' OR file = $1) AND ($2 = '' OR pipeline = $2) ORDER BY tick_at, file, pipeline`,
		clean(file, pipeline)...)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(rows *sql.Rows) (Tick, error) {
		var t Tick
		var at, claimed int64
		var run sql.NullString
		err := rows.Scan(&t.File, &t.Pipeline, &at, &t.Outcome, &run, &t.Server, &claimed)
		t.At, t.Claimed, t.RunID = time.Unix(0, at), time.Unix(0, claimed), run.String
		return t, err
	})
}
