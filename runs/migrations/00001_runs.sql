-- The run history. One file serves SQLite and PostgreSQL: only types both
-- know (TEXT, INTEGER, BIGINT, BOOLEAN, DOUBLE PRECISION), times as BIGINT
-- nanoseconds since the Unix epoch (NULL: not yet), JSON as TEXT (kept
-- byte for byte, which jsonb would not).
--
-- Appended rows (transitions, logs, metrics) are keyed by (run_id, seq), seq
-- handed out from counters on the run's row, so that neither database's
-- auto-increment syntax is needed and a run's rows sit together.

-- +goose Up
CREATE TABLE runs (
    id TEXT PRIMARY KEY,
    file TEXT NOT NULL,
    pipeline TEXT NOT NULL,
    params TEXT,
    broker TEXT NOT NULL,
    status TEXT NOT NULL,
    exit_code INTEGER NOT NULL,
    started_at BIGINT NOT NULL,
    finished_at BIGINT,
    heartbeat_at BIGINT NOT NULL,
    host TEXT NOT NULL,
    user_name TEXT NOT NULL,
    version TEXT NOT NULL,
    cancel_requested BOOLEAN NOT NULL DEFAULT FALSE,
    n_total INTEGER NOT NULL DEFAULT 0,
    n_pending INTEGER NOT NULL DEFAULT 0,
    n_running INTEGER NOT NULL DEFAULT 0,
    n_succeeded INTEGER NOT NULL DEFAULT 0,
    n_failed INTEGER NOT NULL DEFAULT 0,
    n_cancelled INTEGER NOT NULL DEFAULT 0,
    -- the last log line's seq given out (log seqs are 1, 2, 3… per run)
    log_seq BIGINT NOT NULL DEFAULT 0,
    -- the last seq given to a task (its order), transition or metric
    row_seq BIGINT NOT NULL DEFAULT 0
);
-- omp runs, and "last"
CREATE INDEX runs_started ON runs (started_at);
-- omp runs --file, metrics --file, and resume's newest run of a file and pipeline
CREATE INDEX runs_file ON runs (file, pipeline, started_at);
-- omp runs --status, and the sweep for running runs whose heartbeat is old
CREATE INDEX runs_status ON runs (status, heartbeat_at);

-- A run's source and graph, megabytes for a large graph, are apart from
-- its row: every batch and heartbeat updates the row, and both databases
-- write a whole row anew on an update.
CREATE TABLE run_texts (
    run_id TEXT PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
    source TEXT NOT NULL,
    graph TEXT
);

CREATE TABLE tasks (
    run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    node TEXT NOT NULL,
    -- the order in which the run's tasks were first recorded: graph order
    ord BIGINT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    action TEXT NOT NULL,
    label TEXT NOT NULL,
    pos TEXT NOT NULL,
    worker TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    started_at BIGINT,
    finished_at BIGINT,
    error TEXT NOT NULL,
    result TEXT,
    result_ref TEXT NOT NULL,
    -- resume (issue 10) compares cache keys and passes result digests on
    result_digest TEXT NOT NULL,
    cache_key TEXT NOT NULL,
    PRIMARY KEY (run_id, node)
);

CREATE TABLE transitions (
    run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    node TEXT NOT NULL,
    at BIGINT NOT NULL,
    state TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    worker TEXT NOT NULL,
    message TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);

CREATE TABLE logs (
    run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    node TEXT NOT NULL,
    at BIGINT NOT NULL,
    line TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);

CREATE TABLE metrics (
    run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    node TEXT NOT NULL,
    name TEXT NOT NULL,
    -- NULL is NaN: SQLite cannot keep a NaN
    value DOUBLE PRECISION,
    step INTEGER NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (run_id, seq)
);
-- omp metrics --name across runs
CREATE INDEX metrics_name ON metrics (name, run_id);

-- +goose Down
DROP TABLE metrics;
DROP TABLE logs;
DROP TABLE transitions;
DROP TABLE tasks;
DROP TABLE run_texts;
DROP TABLE runs;
