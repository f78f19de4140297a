-- Resume (issue 10): the run a run resumed, and of each task the parts of
-- its cache key (JSON, for omp why) and why it ran although it might have
-- been cached.

-- +goose Up
ALTER TABLE runs ADD COLUMN resumed_from TEXT NOT NULL DEFAULT '';
ALTER TABLE tasks ADD COLUMN cache_parts TEXT;
ALTER TABLE tasks ADD COLUMN not_cached TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE tasks DROP COLUMN not_cached;
ALTER TABLE tasks DROP COLUMN cache_parts;
ALTER TABLE runs DROP COLUMN resumed_from;
