package lsp

import (
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sourcegraph/jsonrpc2"
	protocol "github.com/tliron/glsp/protocol_3_16"
)

// TestDebounce checks, on synctest's fake clock, that a burst of changes is
// checked once, DefaultDebounce after the last of them, and that the
// diagnostics are those of the last version.
func TestDebounce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := startServer(t, Config{})
		c.initialize()
		c.open(uri, "echo a()\n")
		if p := c.diagnostics(); len(p.Diagnostics) != 0 {
			t.Fatalf("on open: %+v, want no diagnostics", p)
		}
		change := func(version int, text string) {
			c.notify("textDocument/didChange", map[string]any{
				"textDocument":   map[string]any{"uri": uri, "version": version},
				"contentChanges": []map[string]any{{"text": text}},
			})
		}
		quiet := func(when string) {
			t.Helper()
			synctest.Wait()
			select {
			case p := <-c.diags:
				t.Fatalf("%s: diagnostics of version %d published", when, *p.Version)
			default:
			}
		}
		for v, text := range []string{"ecoh a()\n", "echo a() -> reduce smu\n", "echo a() -> reduce sun\n"} {
			change(v+2, text)
			time.Sleep(DefaultDebounce * 3 / 4)
			quiet(fmt.Sprintf("%v after change %d", DefaultDebounce*3/4, v+2))
		}
		time.Sleep(DefaultDebounce/4 - time.Millisecond)
		quiet("1ms before the debounce delay")
		time.Sleep(time.Millisecond)
		synctest.Wait()
		p := c.diagnostics()
		if *p.Version != 4 || len(p.Diagnostics) != 1 || !strings.HasPrefix(p.Diagnostics[0].Message, "unknown reducer sun") {
			t.Fatalf("after the delay: %+v, want version 4's one error", p)
		}
		quiet("after the one check")

		c.must("shutdown", nil)
		c.notify("exit", nil)
		if err := <-c.done; err != nil {
			t.Fatal(err)
		}
	})
}

// TestNotInitialized: a request before initialize gets the protocol's
// error for it, and the server goes on.
func TestNotInitialized(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := startServer(t, Config{})
		_, err := c.call("textDocument/hover", docPos(uri, protocol.Position{}))
		var rpcErr *jsonrpc2.Error
		if !errors.As(err, &rpcErr) || rpcErr.Code != codeServerNotInitialized {
			t.Fatalf("hover before initialize: %v, want error %d", err, codeServerNotInitialized)
		}
		c.initialize()
		c.must("shutdown", nil)
		c.notify("exit", nil)
		if err := <-c.done; err != nil {
			t.Fatal(err)
		}
	})
}

// TestExitWithoutShutdown: the protocol says the server then exits with
// status 1, which Serve's error tells cmd/omp.
func TestExitWithoutShutdown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := startServer(t, Config{})
		c.initialize()
		c.notify("exit", nil)
		if err := <-c.done; err != ErrExitWithoutShutdown {
			t.Fatalf("Serve: %v, want ErrExitWithoutShutdown", err)
		}
	})
}

// bigDocument has n statements: lets, chains that use them, and one
// misspelt kind every hundred statements.
func bigDocument(n int) string {
	var b strings.Builder
	b.WriteString("param n = 3\n")
	for i := 1; i < n; i++ {
		switch {
		case i%100 == 0:
			fmt.Fprintf(&b, "ecoh bad%d(n)\n", i)
		case i%2 == 1:
			fmt.Fprintf(&b, "let s%d = echo t%d(%d, sleep=\"1s\") with retries=1\n", i, i, i)
		default:
			fmt.Fprintf(&b, "s%d -> parallel < echo u%d(n), echo v%d() > -> reduce sum\n", i-1, i, i)
		}
	}
	return b.String()
}

// BenchmarkDiagnosticsAfterChange measures, for a 10,000-statement
// document, the time from a change sent to its diagnostics received,
// without the debounce delay (set to 1ns here): the work a change costs.
func BenchmarkDiagnosticsAfterChange(b *testing.B) {
	doc := bigDocument(10_000)
	c := startServer(b, Config{Debounce: time.Nanosecond})
	c.initialize()
	c.open(uri, doc)
	if p := c.diagnostics(); len(p.Diagnostics) != 99 {
		b.Fatalf("on open: %d diagnostics, want 99", len(p.Diagnostics))
	}
	// An edit on the last line, as typing there sends.
	last := newText(doc).position(len(doc) - 1)
	// The CPU time too: on a shared machine, wall time says as much about
	// the neighbours as about the server.
	cpu := func() time.Duration {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			b.Fatal(err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	start := cpu()
	n := 0
	for i := 0; b.Loop(); i++ {
		n++
		c.notify("textDocument/didChange", map[string]any{
			"textDocument": map[string]any{"uri": uri, "version": i + 2},
			"contentChanges": []map[string]any{{
				"range": map[string]any{"start": last, "end": last},
				"text":  " ",
			}},
		})
		if p := c.diagnostics(); len(p.Diagnostics) != 99 {
			b.Fatalf("%d diagnostics, want 99", len(p.Diagnostics))
		}
	}
	b.ReportMetric(float64(cpu()-start)/float64(n)/1e6, "cpu-ms/op")
}
