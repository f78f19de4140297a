package runs

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/ompdev/omp/internal/redact"
)

// sqlStore is the Store of both databases: the schema and the queries are
// written in the SQL that SQLite and PostgreSQL share ($N parameters,
// INSERT … ON CONFLICT … DO UPDATE, UPDATE … RETURNING), so there is one
// implementation to test rather than two to keep alike.
type sqlStore struct {
	// w writes, r reads. For SQLite w is a single connection (so that the
	// process's writers queue in Go) and r a pool that reads beside it;
	// for PostgreSQL both are the same pool.
	w, r *sql.DB
	// anonymous: write bulk inserts' parameters as ?, not $N. SQLite
	// looks $N up by name, in a list, for every parameter: a 2048-
	// parameter INSERT spent most of its time in that.
	anonymous bool

	mu    sync.Mutex
	stmts map[stmtKey]*sql.Stmt // see insert
}

var _ Store = (*sqlStore)(nil)

// maxParams bounds the parameters of one multi-row INSERT, well below
// both databases' limits (SQLite 32766, PostgreSQL 65535).
const maxParams = 2048

const runCols = `id, file, source, pipeline, params, graph, broker, status, exit_code,
	started_at, finished_at, heartbeat_at, host, user_name, version, cancel_requested,
	n_total, n_pending, n_running, n_succeeded, n_failed, n_cancelled, run_trigger, tick_at, resumed_from`

// insertRunCols are the columns of runCols in table runs; source and graph
// are in run_texts (see the migration).
const insertRunCols = `id, file, pipeline, params, broker, status, exit_code,
	started_at, finished_at, heartbeat_at, host, user_name, version, cancel_requested,
	n_total, n_pending, n_running, n_succeeded, n_failed, n_cancelled, run_trigger, tick_at, resumed_from`

// runsFrom is what runCols are selected from.
const runsFrom = ` FROM runs JOIN run_texts ON run_texts.run_id = runs.id`

const taskCols = `run_id, node, ord, kind, name, action, label, pos, worker, state, attempts,
	started_at, finished_at, error, result, result_ref, result_digest, cache_key,
	cache_parts, not_cached`

// The bulk inserts of Write. The first recording of a task fixes its
// order; later ones replace everything else.
var (
	taskBulk = bulk{`INSERT INTO tasks (` + taskCols + `)`, `
		ON CONFLICT (run_id, node) DO UPDATE SET kind = excluded.kind, name = excluded.name,
		action = excluded.action, label = excluded.label, pos = excluded.pos,
		worker = excluded.worker, state = excluded.state, attempts = excluded.attempts,
		started_at = excluded.started_at, finished_at = excluded.finished_at,
		error = excluded.error, result = excluded.result, result_ref = excluded.result_ref,
		result_digest = excluded.result_digest, cache_key = excluded.cache_key,
		cache_parts = excluded.cache_parts, not_cached = excluded.not_cached`, 20}
	transitionBulk = bulk{`INSERT INTO transitions (run_id, seq, node, at, state, attempt, worker, message)`, "", 8}
	metricBulk     = bulk{`INSERT INTO metrics (run_id, seq, node, name, value, step, at)`, "", 7}
	logBulk        = bulk{`INSERT INTO logs (run_id, seq, node, at, line)`, "", 5}
)

func (s *sqlStore) Close() error {
	s.mu.Lock()
	var err error
	for _, st := range s.stmts {
		err = errors.Join(err, st.Close())
	}
	s.mu.Unlock()
	err = errors.Join(err, s.w.Close())
	if s.r != s.w {
		err = errors.Join(err, s.r.Close())
	}
	return err
}

func (s *sqlStore) Create(ctx context.Context, r *Run) error {
	if r.ID == "" {
		return errors.New("a run needs an id")
	}
	if r.Started.IsZero() {
		r.Started = time.Now()
	}
	if r.Heartbeat.IsZero() {
		r.Heartbeat = r.Started
	}
	params, err := jsonArg("params", r.Params)
	if err != nil {
		return err
	}
	graph, err := jsonArg("graph", r.Graph)
	if err != nil {
		return err
	}
	if r.Broker != "" {
		r.Broker = redact.URL(r.Broker)
	}
	c := r.Counts
	trigger := r.Trigger
	if trigger == "" {
		trigger = TriggerRun
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `INSERT INTO runs (`+insertRunCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23)
		ON CONFLICT (id) DO NOTHING`,
		clean(
			r.ID, r.File, r.Pipeline, params, r.Broker, string(Running), 0,
			ns(r.Started), nil, ns(r.Heartbeat), r.Host, r.User, r.Version, false,
			c.Total, c.Pending, c.Running, c.Succeeded, c.Failed, c.Cancelled, trigger, ns(r.Tick), r.ResumedFrom)...)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return fmt.Errorf("run %s already exists", r.ID)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO run_texts (run_id, source, graph) VALUES ($1, $2, $3)`,
		clean(r.ID, r.Source, graph)...); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	r.Status, r.ExitCode, r.Finished, r.CancelRequested, r.Trigger = Running, 0, time.Time{}, false, trigger
	return nil
}

func (s *sqlStore) Write(ctx context.Context, b Batch) error {
	if b.RunID == "" {
		return errors.New("a batch needs a run id")
	}
	tasks, err := b.uniqueTasks()
	if err != nil {
		return err
	}
	for _, tr := range b.Transitions {
		if err := b.owns("transition", tr.RunID); err != nil {
			return err
		}
	}
	for _, l := range b.Logs {
		if err := b.owns("log line", l.RunID); err != nil {
			return err
		}
	}
	for _, m := range b.Metrics {
		if err := b.owns("metric", m.RunID); err != nil {
			return err
		}
	}
	rows := len(tasks) + len(b.Transitions) + len(b.Metrics)
	if rows == 0 && len(b.Logs) == 0 && b.Counts == nil {
		return nil
	}
	for _, p := range []struct {
		b bulk
		n int
	}{{taskBulk, len(tasks)}, {transitionBulk, len(b.Transitions)}, {metricBulk, len(b.Metrics)}, {logBulk, len(b.Logs)}} {
		if err := s.prepare(ctx, p.b, p.n); err != nil {
			return err
		}
	}

	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()

	// Taking the seqs first locks the run's row (PostgreSQL) or the
	// database (SQLite) for the transaction: concurrent batches of one
	// run get disjoint seqs, in the order they commit.
	q := `UPDATE runs SET log_seq = log_seq + $2, row_seq = row_seq + $3`
	args := []any{b.RunID, len(b.Logs), rows}
	if c := b.Counts; c != nil {
		q += `, n_total = $4, n_pending = $5, n_running = $6, n_succeeded = $7, n_failed = $8, n_cancelled = $9`
		args = append(args, c.Total, c.Pending, c.Running, c.Succeeded, c.Failed, c.Cancelled)
	}
	q += ` WHERE id = $1 RETURNING log_seq, row_seq`
	var logSeq, rowSeq int64
	if err := tx.QueryRowContext(ctx, q, clean(args...)...).Scan(&logSeq, &rowSeq); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: %s", ErrNotFound, b.RunID)
		}
		return err
	}
	logSeq -= int64(len(b.Logs))
	rowSeq -= int64(rows)
	next := func(seq *int64) int64 { *seq++; return *seq }

	if len(tasks) > 0 {
		vals := make([]any, 0, len(tasks)*20)
		for _, t := range tasks {
			vals = append(vals, b.RunID, t.Node, next(&rowSeq), t.Kind, t.Name, t.Action, t.Label, t.Pos,
				t.Worker, t.State, t.Attempts, ns(t.Started), ns(t.Finished), t.Error, t.result,
				t.ResultRef, t.ResultDigest, t.CacheKey, t.parts, t.NotCached)
		}
		if err := s.insert(ctx, tx, taskBulk, vals); err != nil {
			return fmt.Errorf("recording tasks: %w", err)
		}
	}
	if len(b.Transitions) > 0 {
		vals := make([]any, 0, len(b.Transitions)*8)
		for _, t := range b.Transitions {
			vals = append(vals, b.RunID, next(&rowSeq), t.Node, t.Time.UnixNano(), t.State, t.Attempt, t.Worker, t.Message)
		}
		if err := s.insert(ctx, tx, transitionBulk, vals); err != nil {
			return fmt.Errorf("recording state changes: %w", err)
		}
	}
	if len(b.Metrics) > 0 {
		vals := make([]any, 0, len(b.Metrics)*7)
		for _, m := range b.Metrics {
			var v any = m.Value
			if math.IsNaN(m.Value) {
				v = nil
			}
			vals = append(vals, b.RunID, next(&rowSeq), m.Node, m.Name, v, m.Step, m.Time.UnixNano())
		}
		if err := s.insert(ctx, tx, metricBulk, vals); err != nil {
			return fmt.Errorf("recording metrics: %w", err)
		}
	}
	if len(b.Logs) > 0 {
		vals := make([]any, 0, len(b.Logs)*5)
		for _, l := range b.Logs {
			vals = append(vals, b.RunID, next(&logSeq), l.Node, l.Time.UnixNano(), l.Line)
		}
		if err := s.insert(ctx, tx, logBulk, vals); err != nil {
			return fmt.Errorf("recording log lines: %w", err)
		}
	}
	return tx.Commit()
}

// taskRow is a Task with its result checked and in the form written.
type taskRow struct {
	Task
	result, parts any
}

// uniqueTasks returns b's tasks, the last of each node in the place of its
// first: one multi-row upsert must not touch a row twice.
func (b *Batch) uniqueTasks() ([]taskRow, error) {
	out := make([]taskRow, 0, len(b.Tasks))
	at := make(map[string]int, len(b.Tasks))
	for _, t := range b.Tasks {
		if err := b.owns("task", t.RunID); err != nil {
			return nil, err
		}
		if t.Node == "" {
			return nil, errors.New("a task needs a node id")
		}
		if len(t.Result) > MaxInlineResult {
			return nil, fmt.Errorf("task %s: its result of %d bytes is over the %d kept in the database: keep it in the store and set ResultRef", t.Node, len(t.Result), MaxInlineResult)
		}
		if !validArg(t.Result) {
			return nil, fmt.Errorf("task %s: result is not valid JSON", t.Node)
		}
		if !b.PartsChecked && !validArg(t.CacheParts) {
			return nil, fmt.Errorf("task %s: cache parts is not valid JSON", t.Node)
		}
		row := taskRow{t, textArg(t.Result), textArg(t.CacheParts)}
		if i, ok := at[t.Node]; ok {
			out[i] = row
			continue
		}
		at[t.Node] = len(out)
		out = append(out, row)
	}
	return out, nil
}

func (b *Batch) owns(what, runID string) error {
	if runID != "" && runID != b.RunID {
		return fmt.Errorf("a batch of run %s holds a %s of run %s", b.RunID, what, runID)
	}
	return nil
}

// A bulk is a multi-row INSERT: head VALUES (…), (…) tail. One
// statement carries many rows, as one round trip per row would make
// PostgreSQL slow; their number is a power of two, so that a few prepared
// statements serve every batch and neither database parses SQL for each.
type bulk struct {
	head, tail string
	cols       int
}

// chunks splits rows into the statements insert runs.
func (b bulk) chunks(rows int) []stmtKey {
	per := 1
	for per*2*b.cols <= maxParams {
		per *= 2
	}
	var ks []stmtKey
	for rows > 0 {
		for per > rows {
			per /= 2
		}
		ks = append(ks, stmtKey{b, per})
		rows -= per
	}
	return ks
}

// prepare prepares the statements that insert needs for rows rows. It
// must run outside a transaction: SQLite's one writing connection is the
// transaction's.
func (s *sqlStore) prepare(ctx context.Context, b bulk, rows int) error {
	for _, k := range b.chunks(rows) {
		if _, err := s.stmt(ctx, k); err != nil {
			return err
		}
	}
	return nil
}

// insert inserts the rows in vals, b.cols values each, with the
// statements prepare prepared.
func (s *sqlStore) insert(ctx context.Context, tx *sql.Tx, b bulk, vals []any) error {
	clean(vals...)
	i := 0
	for _, k := range b.chunks(len(vals) / b.cols) {
		st, err := s.stmt(ctx, k)
		if err != nil {
			return err
		}
		n := k.rows * b.cols
		if _, err := tx.StmtContext(ctx, st).ExecContext(ctx, vals[i:i+n]...); err != nil {
			return err
		}
		i += n
	}
	return nil
}

// stmtKey names a prepared multi-row INSERT.
type stmtKey struct {
	bulk
	rows int
}

func (s *sqlStore) stmt(ctx context.Context, k stmtKey) (*sql.Stmt, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st, ok := s.stmts[k]; ok {
		return st, nil
	}
	var sb strings.Builder
	sb.WriteString(k.head)
	sb.WriteString(" VALUES ")
	p := 1
	for r := range k.rows {
		if r > 0 {
			sb.WriteByte(',')
		}
		sb.WriteByte('(')
		for c := range k.cols {
			if c > 0 {
				sb.WriteByte(',')
			}
			if s.anonymous {
				sb.WriteByte('?')
			} else {
				sb.WriteByte('$')
				sb.WriteString(strconv.Itoa(p))
				p++
			}
		}
		sb.WriteByte(')')
	}
	sb.WriteString(k.tail)
	st, err := s.w.PrepareContext(ctx, sb.String())
	if err != nil {
		return nil, err
	}
	if s.stmts == nil {
		s.stmts = make(map[stmtKey]*sql.Stmt)
	}
	s.stmts[k] = st
	return st, nil
}

func (s *sqlStore) Finish(ctx context.Context, id string, status Status, exitCode int, at time.Time) error {
	if !status.Done() {
		return fmt.Errorf("run %s cannot finish as %s", id, status)
	}
	// A Lost run's runner may come back: its own account of the end
	// replaces the readers' guess.
	res, err := s.w.ExecContext(ctx, `UPDATE runs SET status = $2, exit_code = $3, finished_at = $4
		WHERE id = $1 AND status IN ('RUNNING', 'LOST')`, clean(id, string(status), exitCode, ns(at))...)
	if err != nil {
		return err
	}
	return s.changed(ctx, res, id)
}

func (s *sqlStore) Beat(ctx context.Context, id string, at time.Time) (bool, error) {
	var cancel bool
	err := s.w.QueryRowContext(ctx, `UPDATE runs
		SET heartbeat_at = CASE WHEN heartbeat_at > $2 THEN heartbeat_at ELSE $2 END, status = 'RUNNING'
		WHERE id = $1 AND status IN ('RUNNING', 'LOST') RETURNING cancel_requested`,
		clean(id, at.UnixNano())...).Scan(&cancel)
	if errors.Is(err, sql.ErrNoRows) {
		return false, s.notFoundOrDone(ctx, id)
	}
	return cancel, err
}

func (s *sqlStore) RequestCancel(ctx context.Context, id string) error {
	// A run nobody runs any more cannot be cancelled: say it ended.
	if err := s.markLost(ctx, id, time.Now()); err != nil {
		return err
	}
	res, err := s.w.ExecContext(ctx, `UPDATE runs SET cancel_requested = TRUE WHERE id = $1 AND status = 'RUNNING'`, clean(id)...)
	if err != nil {
		return err
	}
	return s.changed(ctx, res, id)
}

// changed turns an UPDATE of one running run that changed nothing into
// ErrNotFound or ErrDone.
func (s *sqlStore) changed(ctx context.Context, res sql.Result, id string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return s.notFoundOrDone(ctx, id)
	}
	return nil
}

func (s *sqlStore) notFoundOrDone(ctx context.Context, id string) error {
	if err := s.exists(ctx, id); err != nil {
		return err
	}
	return fmt.Errorf("%w: %s", ErrDone, id)
}

func (s *sqlStore) exists(ctx context.Context, id string) error {
	var one int
	err := s.r.QueryRowContext(ctx, `SELECT 1 FROM runs WHERE id = $1`, clean(id)...).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return err
}

// maxCandidates is how many runs an AmbiguousError lists, newest first.
const maxCandidates = 10

func (s *sqlStore) Resolve(ctx context.Context, ref string) (string, error) {
	if ref == "" {
		return "", fmt.Errorf("%w: an empty run id", ErrNotFound)
	}
	var id string
	if ref == "last" {
		err := s.r.QueryRowContext(ctx, `SELECT id FROM runs ORDER BY started_at DESC, id DESC LIMIT 1`).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return "", fmt.Errorf("%w: no run recorded yet", ErrNotFound)
		}
		return id, err
	}
	if err := s.exists(ctx, ref); err == nil {
		return ref, nil
	} else if !errors.Is(err, ErrNotFound) {
		return "", err
	}
	// substr rather than LIKE: SQLite's LIKE ignores case, and a prefix
	// needs no escaping this way.
	rows, err := s.r.QueryContext(ctx, `SELECT id FROM runs WHERE substr(id, 1, $2) = $1
		ORDER BY started_at DESC, id DESC LIMIT $3`, clean(ref, utf8.RuneCountInString(ref), maxCandidates)...)
	if err != nil {
		return "", err
	}
	ids, err := collect(rows, func(rows *sql.Rows) (string, error) {
		var id string
		return id, rows.Scan(&id)
	})
	if err != nil {
		return "", err
	}
	switch len(ids) {
	case 0:
		return "", fmt.Errorf("%w: %s", ErrNotFound, ref)
	case 1:
		return ids[0], nil
	}
	return "", &AmbiguousError{Ref: ref, Candidates: ids}
}

func (s *sqlStore) Run(ctx context.Context, id string) (*Run, error) {
	r, err := s.run(ctx, id)
	if err != nil {
		return nil, err
	}
	if now := time.Now(); r.Status == Running && now.Sub(r.Heartbeat) > LostAfter {
		if err := s.markLost(ctx, id, now); err != nil {
			return nil, err
		}
		return s.run(ctx, id)
	}
	return r, nil
}

func (s *sqlStore) run(ctx context.Context, id string) (*Run, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+runCols+runsFrom+` WHERE id = $1`, clean(id)...)
	if err != nil {
		return nil, err
	}
	runs, err := collect(rows, scanRun)
	if err != nil {
		return nil, err
	}
	if len(runs) == 0 {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return runs[0], nil
}

// markLost records as Lost the running runs (id's, or all if id is "")
// whose heartbeat is older than LostAfter at now. It writes only when there
// is one, so that readers do not queue for SQLite's write lock.
func (s *sqlStore) markLost(ctx context.Context, id string, now time.Time) error {
	cutoff := now.Add(-LostAfter).UnixNano()
	cond := `status = 'RUNNING' AND heartbeat_at < $1`
	args := []any{cutoff}
	if id != "" {
		cond += ` AND id = $2`
		args = append(args, id)
	}
	var one int
	err := s.r.QueryRowContext(ctx, `SELECT 1 FROM runs WHERE `+cond+` LIMIT 1`, clean(args...)...).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	// The condition again: the runner may have beaten in between.
	_, err = s.w.ExecContext(ctx, `UPDATE runs SET status = 'LOST' WHERE `+cond, args...)
	return err
}

func (s *sqlStore) Runs(ctx context.Context, f Filter) ([]Run, error) {
	if err := s.markLost(ctx, "", time.Now()); err != nil {
		return nil, err
	}
	var where []string
	var args []any
	arg := func(col string, v any) {
		args = append(args, v)
		where = append(where, col+" = $"+strconv.Itoa(len(args)))
	}
	if f.File != "" {
		arg("file", f.File)
	}
	if f.Pipeline != "" {
		arg("pipeline", f.Pipeline)
	}
	if f.Status != "" {
		arg("status", string(f.Status))
	}
	q := `SELECT ` + runCols + runsFrom
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY started_at DESC, id DESC`
	if f.Limit > 0 {
		args = append(args, f.Limit)
		q += ` LIMIT $` + strconv.Itoa(len(args))
	}
	rows, err := s.r.QueryContext(ctx, q, clean(args...)...)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(rows *sql.Rows) (Run, error) {
		r, err := scanRun(rows)
		return *r, err
	})
}

func scanRun(rows *sql.Rows) (*Run, error) {
	var r Run
	var params, graph sql.NullString
	var started, finished, heartbeat, tick sql.NullInt64
	var status string
	c := &r.Counts
	err := rows.Scan(&r.ID, &r.File, &r.Source, &r.Pipeline, &params, &graph, &r.Broker, &status, &r.ExitCode,
		&started, &finished, &heartbeat, &r.Host, &r.User, &r.Version, &r.CancelRequested,
		&c.Total, &c.Pending, &c.Running, &c.Succeeded, &c.Failed, &c.Cancelled, &r.Trigger, &tick, &r.ResumedFrom)
	r.Tick = timeOf(tick)
	r.Status = Status(status)
	r.Params, r.Graph = raw(params), raw(graph)
	r.Started, r.Finished, r.Heartbeat = timeOf(started), timeOf(finished), timeOf(heartbeat)
	return &r, err
}

func (s *sqlStore) Tasks(ctx context.Context, runID string) ([]Task, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+taskCols+` FROM tasks WHERE run_id = $1 ORDER BY ord`, clean(runID)...)
	if err != nil {
		return nil, err
	}
	tasks, err := collect(rows, func(rows *sql.Rows) (Task, error) {
		var t Task
		var ord int64
		var started, finished sql.NullInt64
		var result, parts sql.NullString
		err := rows.Scan(&t.RunID, &t.Node, &ord, &t.Kind, &t.Name, &t.Action, &t.Label, &t.Pos, &t.Worker,
			&t.State, &t.Attempts, &started, &finished, &t.Error, &result, &t.ResultRef, &t.ResultDigest, &t.CacheKey,
			&parts, &t.NotCached)
		t.Started, t.Finished, t.Result, t.CacheParts = timeOf(started), timeOf(finished), raw(result), raw(parts)
		return t, err
	})
	return orNotFound(ctx, s, runID, tasks, err)
}

func (s *sqlStore) Transitions(ctx context.Context, runID, node string) ([]Transition, error) {
	q := `SELECT node, at, state, attempt, worker, message FROM transitions WHERE run_id = $1`
	args := []any{runID}
	if node != "" {
		q += ` AND node = $2`
		args = append(args, node)
	}
	rows, err := s.r.QueryContext(ctx, q+` ORDER BY at, seq`, clean(args...)...)
	if err != nil {
		return nil, err
	}
	trs, err := collect(rows, func(rows *sql.Rows) (Transition, error) {
		t := Transition{RunID: runID}
		var at int64
		err := rows.Scan(&t.Node, &at, &t.State, &t.Attempt, &t.Worker, &t.Message)
		t.Time = time.Unix(0, at)
		return t, err
	})
	return orNotFound(ctx, s, runID, trs, err)
}

func (s *sqlStore) Logs(ctx context.Context, runID, node string, after int64) ([]LogLine, error) {
	q := `SELECT seq, node, at, line FROM logs WHERE run_id = $1 AND seq > $2`
	args := []any{runID, after}
	if node != "" {
		q += ` AND node = $3`
		args = append(args, node)
	}
	rows, err := s.r.QueryContext(ctx, q+` ORDER BY seq`, clean(args...)...)
	if err != nil {
		return nil, err
	}
	lines, err := collect(rows, func(rows *sql.Rows) (LogLine, error) {
		l := LogLine{RunID: runID}
		var at int64
		err := rows.Scan(&l.Seq, &l.Node, &at, &l.Line)
		l.Time = time.Unix(0, at)
		return l, err
	})
	return orNotFound(ctx, s, runID, lines, err)
}

// orNotFound passes a run's rows on, or ErrNotFound when there are none
// because there is no such run.
func orNotFound[T any](ctx context.Context, s *sqlStore, runID string, rows []T, err error) ([]T, error) {
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		if err := s.exists(ctx, runID); err != nil {
			return nil, err
		}
	}
	return rows, nil
}

func (s *sqlStore) Metrics(ctx context.Context, f MetricFilter) ([]Metric, error) {
	var where []string
	var args []any
	next := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if len(f.RunIDs) > 0 {
		ps := make([]string, len(f.RunIDs))
		for i, id := range f.RunIDs {
			ps[i] = next(id)
		}
		where = append(where, "m.run_id IN ("+strings.Join(ps, ", ")+")")
	}
	if f.File != "" {
		where = append(where, "r.file = "+next(f.File))
	}
	if f.Name != "" {
		where = append(where, "m.name = "+next(f.Name))
	}
	if f.Task != "" {
		p := next(f.Task)
		where = append(where, "(m.node = "+p+" OR t.name = "+p+")")
	}
	q := `SELECT m.run_id, m.node, m.name, m.value, m.step, m.at FROM metrics m
		JOIN runs r ON r.id = m.run_id
		LEFT JOIN tasks t ON t.run_id = m.run_id AND t.node = m.node`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY r.started_at DESC, r.id DESC, COALESCE(t.ord, 0), m.node, m.name, m.step, m.seq`
	rows, err := s.r.QueryContext(ctx, q, clean(args...)...)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(rows *sql.Rows) (Metric, error) {
		var m Metric
		var v sql.NullFloat64
		var at int64
		err := rows.Scan(&m.RunID, &m.Node, &m.Name, &v, &m.Step, &at)
		m.Value, m.Time = v.Float64, time.Unix(0, at)
		if !v.Valid {
			m.Value = math.NaN()
		}
		return m, err
	})
}

func (s *sqlStore) Prune(ctx context.Context, before time.Time) (int, error) {
	// A run whose runner is gone is Lost, and old Lost runs go too.
	if err := s.markLost(ctx, "", time.Now()); err != nil {
		return 0, err
	}
	// Its tasks, state changes, logs and metrics go with it (ON DELETE
	// CASCADE). A run still running stays, however old.
	res, err := s.w.ExecContext(ctx, `DELETE FROM runs WHERE started_at < $1 AND status <> 'RUNNING'`, before.UnixNano())
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// collect scans every row with scan and closes rows.
func collect[T any](rows *sql.Rows, scan func(*sql.Rows) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// clean makes every string argument valid UTF-8 without NUL, in place, and
// returns args: PostgreSQL refuses both in TEXT, and SQLite should keep
// what PostgreSQL keeps. Invalid bytes and NUL become U+FFFD.
func clean(args ...any) []any {
	for i, a := range args {
		if s, ok := a.(string); ok && (!utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0) {
			args[i] = strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", "\uFFFD"), "\uFFFD")
		}
	}
	return args
}

// jsonArg is a JSON value as written: nil (NULL) when empty, else its text
// once checked. The text shares j's bytes, which nothing changes while the
// statement runs and the drivers copy: a run's graph can be tens of
// megabytes, which a copy would hold twice while the run starts.
func jsonArg(what string, j json.RawMessage) (any, error) {
	if !validArg(j) {
		return nil, fmt.Errorf("%s is not valid JSON", what)
	}
	if len(j) == 0 {
		return nil, nil
	}
	return unsafe.String(unsafe.SliceData(j), len(j)), nil
}

// validArg tells whether j may be written as a JSON value: empty (NULL) or
// valid JSON.
func validArg(j json.RawMessage) bool { return len(j) == 0 || json.Valid(j) }

// textArg is a JSON value as written, unchecked: nil (NULL) when empty,
// else its text.
func textArg(j json.RawMessage) any {
	if len(j) == 0 {
		return nil
	}
	return string(j)
}

func raw(s sql.NullString) json.RawMessage {
	if !s.Valid {
		return nil
	}
	return json.RawMessage(s.String)
}

// ns is a time as stored: nanoseconds since the Unix epoch, or NULL for
// the zero time.
func ns(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixNano()
}

func timeOf(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.Unix(0, n.Int64)
}
