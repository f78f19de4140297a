// Command omp-kind-http is a third-party task kind, written against the
// public SDK only: `http NAME.get(URL)` and `http NAME.post(URL[, BODY])`
// send a request and return {"status", "headers", "body"}, the body parsed
// as JSON when it is JSON. POST sends BODY, or the upstream result when BODY
// is left out, as JSON. A status of 400 or more fails the task; 4xx errors
// other than 408 and 429 are permanent, since retrying cannot fix them.
//
//	go build -o plugins/bin/omp-kind-http ./examples/plugins/http
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/ompdev/omp/plugins/sdk"
)

type httpKind struct{}

func (httpKind) Describe() sdk.KindSpec {
	return sdk.KindSpec{
		Name:        "http",
		Description: "Sends an HTTP request and returns its status, headers and body",
		// The version is part of each task's cache key: bump it when a
		// change would give other results.
		Version: "1.1.0",
		Actions: []sdk.ActionSpec{
			// What a server answers changes without any argument
			// changing: resume always sends the request again.
			{Name: "get", MinArgs: 1, MaxArgs: 1, Args: []string{"url"}, NoCache: true},
			{Name: "post", MinArgs: 1, MaxArgs: 2, Args: []string{"url", "body"}, NoCache: true},
		},
	}
}

func (httpKind) Run(ctx context.Context, t sdk.Task, e sdk.Emitter) (any, error) {
	var url string
	if err := t.Arg(0, &url); err != nil {
		return nil, err
	}
	var body io.Reader
	if t.Action == "post" {
		data := t.Input
		if len(t.Args) > 1 {
			data = t.Args[1]
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, strings.ToUpper(t.Action), url, body)
	if err != nil {
		return nil, sdk.Permanent(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	e.Log(fmt.Sprintf("%s %s: %s (%d bytes)", req.Method, url, resp.Status, len(data)))
	if resp.StatusCode >= 400 {
		err = fmt.Errorf("%s %s: %s", req.Method, url, resp.Status)
		if resp.StatusCode < 500 && resp.StatusCode != 408 && resp.StatusCode != 429 {
			err = sdk.Permanent(err)
		}
		return nil, err
	}
	headers := map[string]string{}
	for k, v := range resp.Header {
		headers[k] = strings.Join(v, ", ")
	}
	var parsed any = string(data)
	if json.Valid(data) {
		parsed = json.RawMessage(data)
	}
	return map[string]any{"status": resp.StatusCode, "headers": headers, "body": parsed}, nil
}

func main() { sdk.Serve(httpKind{}) }
