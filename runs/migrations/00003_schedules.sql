-- Schedules (omp serve). A run says what started it; every tick of every
-- schedule that a server claimed has a row of its own, and the primary key
-- is the exactly-once guarantee: of all the servers that try to claim a
-- tick, in one transaction each, exactly one inserts its row (INSERT … ON
-- CONFLICT DO NOTHING) and only that one runs it.

-- +goose Up
-- run_trigger: run (omp run), api (POST /api/runs) or schedule;
-- tick_at: the tick a scheduled run is for.
ALTER TABLE runs ADD COLUMN run_trigger TEXT NOT NULL DEFAULT 'run';
ALTER TABLE runs ADD COLUMN tick_at BIGINT;

CREATE TABLE ticks (
    -- the file as the server names it: relative to the directory it serves
    file TEXT NOT NULL,
    pipeline TEXT NOT NULL,
    tick_at BIGINT NOT NULL,
    -- fired, or skipped (overlap="skip" and the previous run still ran)
    outcome TEXT NOT NULL,
    -- the run a fired tick started; NULL until it is created
    run_id TEXT,
    server TEXT NOT NULL,
    claimed_at BIGINT NOT NULL,
    PRIMARY KEY (file, pipeline, tick_at)
);

-- +goose Down
DROP TABLE ticks;
ALTER TABLE runs DROP COLUMN tick_at;
ALTER TABLE runs DROP COLUMN run_trigger;
