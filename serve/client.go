package serve

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ompdev/omp/runs"
)

// Client is the API of an omp serve, seen as a read-only runs.Store, so
// that omp status, logs and cancel work alike on --db and on --server:
// the methods that write (but RequestCancel) say that a server's history
// is written by the server.
type Client struct {
	base  string
	token string
	http  *http.Client
}

var _ runs.Store = (*Client)(nil)

// ErrReadOnly is the error of the Store methods a Client does not offer.
var ErrReadOnly = errors.New("the run history of a server is written by the server")

// NewClient returns a client of the server at base (http://HOST:PORT).
func NewClient(base, token string) (*Client, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--server %q: want http://HOST:PORT", base)
	}
	return &Client{base: strings.TrimSuffix(base, "/"), token: token, http: &http.Client{}}, nil
}

func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	resp, err := c.request(ctx, method, path, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// request sends a request and turns an error answer into an error: a
// 404 of a run wraps runs.ErrNotFound, a 409 of an ambiguous one is a
// *runs.AmbiguousError, a 409 of a cancel runs.ErrDone.
func (c *Client) request(ctx context.Context, method, path string, body any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("server %s: %w", c.base, unwrapURL(err))
	}
	if resp.StatusCode < 300 {
		return resp, nil
	}
	defer resp.Body.Close()
	var e apiError
	b, _ := io.ReadAll(io.LimitReader(resp.Body, MaxBody))
	if json.Unmarshal(b, &e) != nil || e.Error == "" {
		e.Error = strings.TrimSpace(string(b))
	}
	switch {
	case resp.StatusCode == http.StatusNotFound && strings.HasPrefix(e.Error, "no run "):
		return nil, fmt.Errorf("%w: %s", runs.ErrNotFound, strings.TrimPrefix(e.Error, "no run "))
	case resp.StatusCode == http.StatusConflict && len(e.Candidates) > 0:
		return nil, &runs.AmbiguousError{Ref: path, Candidates: e.Candidates}
	case resp.StatusCode == http.StatusConflict:
		return nil, fmt.Errorf("%w: %s", runs.ErrDone, e.Error)
	}
	return nil, &HTTPError{Status: resp.StatusCode, Msg: e.Error}
}

// HTTPError is an error answer of the server.
type HTTPError struct {
	Status int
	Msg    string
}

func (e *HTTPError) Error() string { return fmt.Sprintf("%s (HTTP %d)", e.Msg, e.Status) }

func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// Submit starts a run and returns its id.
func (c *Client) Submit(ctx context.Context, req SubmitRequest) (string, error) {
	var out struct {
		ID string `json:"id"`
	}
	if err := c.do(ctx, http.MethodPost, "/api/runs", req, &out); err != nil {
		return "", err
	}
	return out.ID, nil
}

// Event is one server-sent event of a run.
type Event struct {
	Name string
	Data json.RawMessage
}

// Follow calls fn with each event of a run until the "end" event, which
// it also passes.
func (c *Client) Follow(ctx context.Context, id string, fn func(Event) error) error {
	resp, err := c.request(ctx, http.MethodGet, "/api/runs/"+url.PathEscape(id)+"/events", nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	var ev Event
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			ev.Name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			ev.Data = json.RawMessage(strings.TrimPrefix(line, "data: "))
		case line == "" && ev.Name != "":
			if err := fn(ev); err != nil {
				return err
			}
			if ev.Name == "end" {
				return nil
			}
			ev = Event{}
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("server %s: following run %s: %w", c.base, id, err)
	}
	return fmt.Errorf("server %s: the events of run %s ended before the run", c.base, id)
}

func (c *Client) Resolve(ctx context.Context, ref string) (string, error) {
	var info RunInfo
	if err := c.do(ctx, http.MethodGet, "/api/runs/"+url.PathEscape(ref), nil, &info); err != nil {
		var amb *runs.AmbiguousError
		if errors.As(err, &amb) {
			amb.Ref = ref
		}
		return "", err
	}
	return info.Run.ID, nil
}

func (c *Client) Run(ctx context.Context, id string) (*runs.Run, error) {
	var info RunInfo
	if err := c.do(ctx, http.MethodGet, "/api/runs/"+url.PathEscape(id), nil, &info); err != nil {
		return nil, err
	}
	return info.Run, nil
}

func (c *Client) Tasks(ctx context.Context, runID string) ([]runs.Task, error) {
	var info RunInfo
	if err := c.do(ctx, http.MethodGet, "/api/runs/"+url.PathEscape(runID), nil, &info); err != nil {
		return nil, err
	}
	return info.Tasks, nil
}

func (c *Client) Runs(ctx context.Context, f runs.Filter) ([]runs.Run, error) {
	q := url.Values{}
	for k, v := range map[string]string{"file": f.File, "pipeline": f.Pipeline, "status": string(f.Status)} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	var out []runs.Run
	err := c.do(ctx, http.MethodGet, "/api/runs?"+q.Encode(), nil, &out)
	return out, err
}

func (c *Client) Logs(ctx context.Context, runID, node string, after int64) ([]runs.LogLine, error) {
	q := url.Values{"after": {strconv.FormatInt(after, 10)}}
	if node != "" {
		q.Set("node", node)
	}
	var out []runs.LogLine
	err := c.do(ctx, http.MethodGet, "/api/runs/"+url.PathEscape(runID)+"/logs?"+q.Encode(), nil, &out)
	return out, err
}

func (c *Client) RequestCancel(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodPost, "/api/runs/"+url.PathEscape(id)+"/cancel", nil, nil)
}

func (c *Client) Close() error { c.http.CloseIdleConnections(); return nil }

func (c *Client) Create(context.Context, *runs.Run) error { return ErrReadOnly }
func (c *Client) Write(context.Context, runs.Batch) error { return ErrReadOnly }
func (c *Client) Finish(context.Context, string, runs.Status, int, time.Time) error {
	return ErrReadOnly
}
func (c *Client) Beat(context.Context, string, time.Time) (bool, error) { return false, ErrReadOnly }
func (c *Client) Transitions(context.Context, string, string) ([]runs.Transition, error) {
	return nil, ErrReadOnly
}
func (c *Client) Metrics(context.Context, runs.MetricFilter) ([]runs.Metric, error) {
	return nil, ErrReadOnly
}
func (c *Client) Prune(context.Context, time.Time) (int, error) { return 0, ErrReadOnly }
func (c *Client) ClaimTick(context.Context, runs.Tick, bool) (bool, string, error) {
	return false, "", ErrReadOnly
}
func (c *Client) SetTickRun(context.Context, string, string, time.Time, string) error {
	return ErrReadOnly
}
func (c *Client) LastTick(context.Context, string, string) (time.Time, bool, error) {
	return time.Time{}, false, ErrReadOnly
}
func (c *Client) Ticks(context.Context, string, string) ([]runs.Tick, error) {
	return nil, ErrReadOnly
}

// SchedulesReport is GET /api/schedules: the schedules the server fires,
// and the served files that do not compile.
type SchedulesReport struct {
	Schedules []ScheduleInfo `json:"schedules"`
	Errors    []FileInfo     `json:"errors"`
}

// Schedules returns the server's schedules.
func (c *Client) Schedules(ctx context.Context) (*SchedulesReport, error) {
	var out SchedulesReport
	if err := c.do(ctx, http.MethodGet, "/api/schedules", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
