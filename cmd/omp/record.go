package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/ompdev/omp/compiler"
	"github.com/ompdev/omp/internal/redact"
	"github.com/ompdev/omp/runs"
	"github.com/ompdev/omp/runs/record"
	"github.com/ompdev/omp/runtime"
	"github.com/ompdev/omp/runtime/report"
	"github.com/ompdev/omp/store"
	"github.com/ompdev/omp/webui"
)

// recording is omp run's side of the run history: nothing with
// --no-record.
type recording struct {
	s     *streams
	db    runs.Store
	blobs *store.Store
	rec   *record.Recorder
	id    string
	// resumedFrom is the run this one resumes, or "".
	resumedFrom string
	// tmp is the directory of a history made only for an HTML report of
	// a run that is not recorded (--no-record), removed at the end.
	tmp string
}

// openRecording opens the run history before anything of the run starts:
// a database that cannot be opened stops it with exit 3. The default is
// .omp/omp.db in the store's directory when the store is one, else in the
// current directory.
func openRecording(ctx context.Context, s *streams, opts runOptions, storeLoc string) (*recording, error) {
	rc := &recording{s: s, id: runtime.NewRunID()}
	if opts.noRecord && len(htmlReports(opts.report)) > 0 {
		// The report is built from a run history, as omp serve's page
		// is: this one lives as long as the command.
		dir, err := os.MkdirTemp("", "omp-report-")
		if err != nil {
			return nil, withCode(ExitInfra, err)
		}
		rc.tmp = dir
		if rc.db, err = openDB(ctx, "sqlite:"+filepath.Join(dir, "omp.db")); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		return rc, nil
	}
	if opts.noRecord {
		return rc, nil
	}
	dir := ""
	if !strings.Contains(storeLoc, "://") {
		dir = storeLoc
	}
	// runs.Open creates the database on first use, its directory too.
	db, err := openDB(ctx, dbURL(opts.db, dir))
	if err != nil {
		return nil, err
	}
	rc.db = db
	return rc, nil
}

// start prints the run's id (unless the live view shows it), starts its recorder and returns the context
// the run goes on with, which omp cancel cancels as Ctrl-C does, and the
// listener that hears the run: l, and the recorder after it.
func (rc *recording) start(ctx context.Context, g *compiler.Graph, opts runOptions, storeLoc string, l runtime.Listener) (context.Context, runtime.Listener, error) {
	// The live view names the run on its status line, and a line above
	// its screen would scroll it.
	if _, live := l.(*report.Live); !live {
		fmt.Fprintf(rc.s.err, "run %s\n", rc.id)
	}
	if rc.db == nil {
		return ctx, l, nil
	}
	file, _ := filepath.Abs(opts.file)
	src, _ := os.ReadFile(opts.file)
	params, err := json.Marshal(g.Params)
	if err != nil {
		return nil, nil, withCode(ExitInfra, fmt.Errorf("recording the params: %w", err))
	}
	// An unrecorded run leaves nothing in the store, not even a result
	// too large for the report's history (recorded there as null).
	if b, err := store.Open(ctx, storeLoc); err == nil && rc.tmp == "" {
		rc.blobs = b
	}
	host, _ := os.Hostname()
	broker := ""
	if opts.broker != "" {
		broker = redact.URL(opts.broker)
	}
	runCtx, cancel := context.WithCancel(ctx)
	cfg := record.Config{
		Store: rc.db,
		Run: runs.Run{
			ID: rc.id, File: file, Source: string(src), Pipeline: g.Pipeline,
			Params: params, Broker: broker,
			Host: host, User: record.UserName(), Version: version(),
			ResumedFrom: rc.resumedFrom,
		},
		Graph:  g,
		Cancel: cancel,
		Logger: personLogger(rc.s.err),
	}
	if rc.blobs != nil {
		cfg.Blobs = rc.blobs
	}
	rc.rec, err = record.Start(ctx, cfg)
	if err != nil {
		cancel()
		return nil, nil, withCode(ExitInfra, err)
	}
	both := runtime.ListenerFunc(func(u runtime.Update) {
		l.Notify(u)
		rc.rec.Notify(u)
	})
	return runCtx, both, nil
}

// finish records the run's end: its status from r (nil: it never ran),
// its exit status from runErr, what omp run returns. A failed write is a
// warning: the run's own outcome stands.
func (rc *recording) finish(r *runtime.Report, runErr error) {
	if rc.rec == nil {
		return
	}
	code := ExitOK
	var ee *exitError
	if errors.As(runErr, &ee) {
		code = ee.code
	} else if runErr != nil {
		code = ExitFailure
	}
	status := runs.Failure
	if r != nil {
		switch r.Status {
		case runtime.Success:
			status = runs.Success
		case runtime.Cancelled:
			status = runs.Cancelled
		}
	}
	// An exit status of success with a failed write is still success;
	// Close has printed the warning.
	_ = rc.rec.Close(status, int(code))
	rc.rec = nil
}

func (rc *recording) close() {
	if rc.rec != nil {
		rc.finish(nil, withCode(ExitInfra, nil))
	}
	if rc.blobs != nil {
		rc.blobs.Close()
	}
	if rc.db != nil {
		rc.db.Close()
	}
	if rc.tmp != "" {
		os.RemoveAll(rc.tmp)
	}
}

// writeHTML writes the run, as recorded, as an HTML report to each path.
func (rc *recording) writeHTML(ctx context.Context, paths []string) error {
	if len(paths) == 0 || rc.db == nil {
		return nil
	}
	v, err := webui.LoadRun(ctx, rc.db, rc.id, true)
	if err != nil {
		return fmt.Errorf("--report: reading run %s back: %w", rc.id, err)
	}
	for _, path := range paths {
		if err := writeReport(path, func(w io.Writer) error { return webui.WriteReport(w, v) }); err != nil {
			return err
		}
	}
	return nil
}
