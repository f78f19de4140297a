// Package browsertest drives a real headless Chromium from Go tests, through
// chromedp, so that pages are tested as a person's browser runs them.
//
// Its guarantees: nothing it offers waits forever, every wait ends by its
// deadline and fails the test with what it waited for and what it saw
// instead; a test is skipped for want of a browser only when none is
// installed and $OMP_REQUIRE_BROWSER is unset (CI sets it, so there a
// missing browser fails the test); one browser process serves every test
// of a test binary, each test in a tab of its own, closed when the test
// ends; and Shutdown, or the test binary's end, stops the browser.
package browsertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// RequireEnv names the environment variable that, when set to anything,
// turns a missing browser from a skip into a failure.
const RequireEnv = "OMP_REQUIRE_BROWSER"

// ExecEnv names the environment variable that gives the browser's
// executable, ahead of the names looked up on $PATH.
const ExecEnv = "OMP_CHROMIUM"

// Timeout bounds each wait of a Page unless the Page says otherwise: long,
// because a loaded CI machine can take seconds to draw a page, and a
// test that fails only after it is still better than one that never ends.
const Timeout = 60 * time.Second

// names are the executables looked up on $PATH, in order: Debian's
// chromium first, as .ci/run installs it.
var names = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell", "headless_shell"}

// ExecPath returns the browser to run: $OMP_CHROMIUM if set, else the
// first of the usual names found on $PATH.
func ExecPath() (string, error) {
	if p := os.Getenv(ExecEnv); p != "" {
		return exec.LookPath(p)
	}
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("no Chromium found: none of %s is on $PATH and $%s is unset (apt-get install chromium)", strings.Join(names, ", "), ExecEnv)
}

// browser is the test binary's one browser process.
var browser struct {
	sync.Mutex
	ctx    context.Context // a chromedp context whose first tab is open
	cancel context.CancelFunc
	err    error
	done   bool // Shutdown was called
}

// start starts the browser on the first call and returns it after.
func start() (context.Context, error) {
	browser.Lock()
	defer browser.Unlock()
	if browser.done {
		return nil, errors.New("browsertest: the browser was shut down")
	}
	if browser.ctx != nil || browser.err != nil {
		return browser.ctx, browser.err
	}
	path, err := ExecPath()
	if err != nil {
		browser.err = err
		return nil, err
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.WindowSize(1280, 800),
		chromedp.DisableGPU,
		// Chromium refuses to start as root with its sandbox, and tests
		// in containers and on CI runners often run as root.
		chromedp.Flag("no-sandbox", os.Geteuid() == 0),
	)
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	// The first Run starts the process; it must not carry a deadline, which
	// would stop the whole browser, so a watchdog bounds it instead.
	startErr := make(chan error, 1)
	go func() { startErr <- chromedp.Do(ctx) }()
	select {
	case err = <-startErr:
	case <-time.After(Timeout):
		err = fmt.Errorf("no answer within %s", Timeout)
	}
	if err != nil {
		cancel()
		acancel()
		browser.err = fmt.Errorf("starting %s: %w", path, err)
		return nil, browser.err
	}
	browser.ctx = ctx
	browser.cancel = func() { cancel(); acancel() }
	return ctx, nil
}

// Shutdown stops the browser, if one was started, and waits for it to
// exit. A TestMain calls it after m.Run so that no browser outlives the
// test binary's last test; Chromium is also killed when the test binary
// exits, as chromedp starts it with a parent-death signal on Linux.
func Shutdown() {
	browser.Lock()
	defer browser.Unlock()
	browser.done = true
	if browser.cancel != nil {
		browser.cancel()
	}
}

// Page is one tab of the shared browser, for one test.
type Page struct {
	t   testing.TB
	ctx context.Context
	// Timeout bounds each wait and action; Timeout by default.
	Timeout time.Duration

	mu       sync.Mutex
	requests []string // URLs the page asked the network for
	console  []string // the page's console errors and uncaught exceptions
}

// New opens a tab, closed when t ends. It skips t when there is no
// browser and $OMP_REQUIRE_BROWSER is unset, and fails it otherwise.
func New(t testing.TB) *Page {
	t.Helper()
	bctx, err := start()
	if err != nil {
		if os.Getenv(RequireEnv) == "" {
			t.Skipf("no browser to test in (set $%s to fail instead): %v", RequireEnv, err)
		}
		t.Fatalf("no browser to test in: %v", err)
	}
	ctx, cancel := chromedp.NewContext(bctx)
	p := &Page{t: t, ctx: ctx, Timeout: Timeout}
	t.Cleanup(func() {
		// What the page's scripts said explains most failures.
		if t.Failed() {
			for _, c := range p.Console() {
				t.Logf("page: %s", c)
			}
		}
		cancel()
	})
	if err := chromedp.Listen(ctx, p.listen); err != nil {
		t.Fatalf("opening a tab: %v", err)
	}
	p.do("enabling the network events", func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, tg, network.Enable, network.EnableParams{})
		return chromedp.Void{}, err
	})
	return p
}

// listen keeps what the tests report on: the URLs requested, and what the
// page's scripts complained of.
func (p *Page) listen(ev any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		p.requests = append(p.requests, ev.Request.URL)
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		msg := d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			msg = d.Exception.Description
		}
		p.console = append(p.console, fmt.Sprintf("%s:%d: %s", d.URL, d.LineNumber+1, msg))
	case *runtime.EventConsoleAPICalled:
		if ev.Type != runtime.ConsoleAPICalledTypeError {
			return
		}
		var parts []string
		for _, a := range ev.Args {
			if a.Description != "" {
				parts = append(parts, a.Description)
			} else {
				parts = append(parts, string(a.Value))
			}
		}
		p.console = append(p.console, "console.error: "+strings.Join(parts, " "))
	}
}

// Requests returns the URLs the page asked for so far, in order, the
// ones that failed or were blocked included.
func (p *Page) Requests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.requests...)
}

// Console returns the page's uncaught exceptions and console errors so
// far: a page that works has none.
func (p *Page) Console() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.console...)
}

// Run runs a chromedp action on the page's tab within the page's Timeout
// and fails the test, naming what, if it does not succeed.
func Run[T any](p *Page, what string, a chromedp.Action[T]) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, p.Timeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("gave up after %s: %w", p.Timeout, err)
		}
		p.t.Fatalf("%s: %v", what, err)
	}
	return v
}

func (p *Page) do(what string, a chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	Run(p, what, a)
}

// Navigate opens url and waits for its document to load.
func (p *Page) Navigate(url string) {
	p.t.Helper()
	p.do("opening "+url, chromedp.Navigate(url))
}

// Offline cuts the tab off the network: every request but those of
// file: and data: URLs fails, as on a machine without one.
func (p *Page) Offline() {
	p.t.Helper()
	p.do("cutting the tab off the network", func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, tg, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{
			EmulateOfflineServiceWorker: ptr(true),
			MatchedNetworkConditions:    []*network.Conditions{{Offline: true, DownloadThroughput: -1, UploadThroughput: -1}},
		})
		if err != nil {
			return chromedp.Void{}, err
		}
		_, err = cdp.Call(ctx, tg, network.OverrideNetworkState, network.OverrideNetworkStateParams{Offline: true, DownloadThroughput: -1, UploadThroughput: -1})
		return chromedp.Void{}, err
	})
}

func ptr[T any](v T) *T { return &v }

// js quotes s as a JavaScript string literal.
func js(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// WaitFor waits until the JavaScript expression cond is true, re-checking
// it on every change of the document; what names the wait in the
// failure, which also gives the value of the expression report then.
func (p *Page) WaitFor(what, cond, report string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, p.Timeout)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](cond,
		chromedp.WithPollingMutation(), chromedp.WithPollingTimeout(p.Timeout)))
	if err == nil {
		return
	}
	seen := "nothing: the page did not answer"
	if report != "" {
		// A fresh deadline: the wait's own is spent.
		rctx, rcancel := context.WithTimeout(p.ctx, 10*time.Second)
		defer rcancel()
		if v, rerr := chromedp.Run(rctx, chromedp.Evaluate[any](report)); rerr == nil {
			var b strings.Builder
			enc := json.NewEncoder(&b)
			enc.SetEscapeHTML(false)
			_ = enc.Encode(v)
			seen = strings.TrimSpace(b.String())
		}
	}
	// The page's own deadline and ctx's are the same: either may end the
	// wait, and both mean that it timed out.
	if errors.Is(err, chromedp.ErrPollingTimeout) || errors.Is(err, context.DeadlineExceeded) {
		p.t.Fatalf("waited %s for %s; saw %s", p.Timeout, what, seen)
	}
	p.t.Fatalf("waiting for %s: %v; saw %s", what, err, seen)
}

// Wait waits for an element matching the CSS selector sel.
func (p *Page) Wait(sel string) {
	p.t.Helper()
	p.WaitFor("an element "+sel, "document.querySelector("+js(sel)+") !== null",
		"'a page whose text begins: ' + (document.body ? document.body.innerText.slice(0, 300) : '')")
}

// WaitVisible waits until the first element matching sel is drawn: in
// the document, displayed, not hidden, with a size.
func (p *Page) WaitVisible(sel string) {
	p.t.Helper()
	el := "document.querySelector(" + js(sel) + ")"
	p.WaitFor(sel+" to be visible",
		"(e => e !== null && e.checkVisibility({visibilityProperty: true}) && e.getClientRects().length > 0)("+el+")",
		"(e => e === null ? 'no element' : 'an element not drawn: ' + e.outerHTML.slice(0, 200))("+el+")")
}

// WaitAttr waits until the first element matching sel has attribute attr
// equal to want.
func (p *Page) WaitAttr(sel, attr, want string) {
	p.t.Helper()
	get := "(document.querySelector(" + js(sel) + ") || {getAttribute: () => 'no element'}).getAttribute(" + js(attr) + ")"
	p.WaitFor(fmt.Sprintf("%s to have %s=%q", sel, attr, want), get+" === "+js(want), get)
}

// WaitText waits until the text of the first element matching sel
// contains want.
func (p *Page) WaitText(sel, want string) {
	p.t.Helper()
	get := "(document.querySelector(" + js(sel) + ") || {textContent: 'no element'}).textContent"
	p.WaitFor(fmt.Sprintf("%s to contain %q", sel, want), get+".includes("+js(want)+")", get)
}

// WaitCount waits until exactly n elements match sel.
func (p *Page) WaitCount(sel string, n int) {
	p.t.Helper()
	count := "document.querySelectorAll(" + js(sel) + ").length"
	p.WaitFor(fmt.Sprintf("%d elements %s", n, sel), fmt.Sprintf("%s === %d", count, n), count)
}

// Eval evaluates a JavaScript expression and returns its value.
func Eval[T any](p *Page, expr string) T {
	p.t.Helper()
	return Run(p, "evaluating "+expr, chromedp.Evaluate[T](expr))
}

// Attrs returns attribute attr of every element matching sel, in document
// order; an element without it gives "".
func (p *Page) Attrs(sel, attr string) []string {
	p.t.Helper()
	return Eval[[]string](p, "Array.from(document.querySelectorAll("+js(sel)+"), e => e.getAttribute("+js(attr)+") || '')")
}

// Press focuses the first element matching sel and types keys, as a
// person without a mouse does; "\r" is Enter.
func (p *Page) Press(sel, keys string) {
	p.t.Helper()
	p.Wait(sel)
	// Focused from the page's script, not by node id: a page that redraws
	// replaces the element that a node id names.
	focused := Eval[bool](p, "(e => (e.focus(), document.activeElement === e))(document.querySelector("+js(sel)+"))")
	if !focused {
		p.t.Fatalf("%s does not take the focus", sel)
	}
	p.do(fmt.Sprintf("typing %q into %s", keys, sel), typeKeys(keys))
}

// typeKeys types keys as a keyboard does, one keyDown carrying the text
// then a keyUp per key, so that Chromium makes the keypress itself and a
// page's preventDefault on keydown stops it. chromedp.KeyEvent sends the
// keypress as an event of its own, which reaches whatever the keydown
// focused: Enter that opens a panel and focuses its Close button would
// close it again.
func typeKeys(keys string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		for _, r := range keys {
			evs := kb.Encode(r)
			down, up := *evs[0], *evs[len(evs)-1]
			if len(evs) == 3 {
				down.Text, down.UnmodifiedText = evs[1].Text, evs[1].UnmodifiedText
			}
			for _, ev := range []input.DispatchKeyEventParams{down, up} {
				if _, err := cdp.Call(ctx, tg, input.DispatchKeyEvent, ev); err != nil {
					return chromedp.Void{}, err
				}
			}
		}
		return chromedp.Void{}, nil
	}
}

// Dark makes the page see a system in dark mode (prefers-color-scheme).
func (p *Page) Dark() {
	p.t.Helper()
	p.do("turning dark mode on", func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}},
		})
		return chromedp.Void{}, err
	})
}

// Click clicks the first element matching sel, once it is visible.
func (p *Page) Click(sel string) {
	p.t.Helper()
	p.do("clicking "+sel, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
}

// ShotsEnv names the environment variable that gives a directory where
// screenshots are kept too, as TEST-NAME.png, since the test's temporary
// directory goes with the test: for a person to look at them, or for CI
// to keep them.
const ShotsEnv = "OMP_SCREENSHOTS"

// Screenshot saves a PNG of the whole page, not only the window, as
// name.png under the test's temporary directory (and in $OMP_SCREENSHOTS
// if set), logs its path and returns it.
func (p *Page) Screenshot(name string) string {
	p.t.Helper()
	// From the top, as a person first sees the page: scrolled, a sticky
	// table header would be drawn over the rows where the window was.
	Eval[int](p, "window.scrollTo(0, 0), 0")
	png := Run(p, "taking a screenshot", chromedp.FullScreenshot(100))
	path := filepath.Join(p.t.TempDir(), name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		p.t.Fatal(err)
	}
	p.t.Logf("screenshot: %s", path)
	if dir := os.Getenv(ShotsEnv); dir != "" {
		kept := filepath.Join(dir, strings.NewReplacer("/", "-").Replace(p.t.Name())+"-"+name+".png")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			p.t.Fatal(err)
		}
		if err := os.WriteFile(kept, png, 0o644); err != nil {
			p.t.Fatal(err)
		}
		p.t.Logf("screenshot kept: %s", kept)
	}
	return path
}
