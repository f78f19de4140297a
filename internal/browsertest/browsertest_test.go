package browsertest_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ompdev/omp/internal/browsertest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	browsertest.Shutdown()
	os.Exit(code)
}

func pageURL(t *testing.T) string {
	abs, err := filepath.Abs("testdata/page.html")
	if err != nil {
		t.Fatal(err)
	}
	return "file://" + abs
}

// TestPage: the waits see what a page's script draws after it loaded, a
// click reaches the page, and a screenshot is a PNG in the test's
// temporary directory.
func TestPage(t *testing.T) {
	p := browsertest.New(t)
	p.Navigate(pageURL(t))
	p.WaitAttr("#state", "data-state", "DONE")
	p.WaitText("#state", "DONE")
	p.WaitCount("#items li", 3)
	if got := p.Attrs("#state, #go", "id"); !slices.Equal(got, []string{"state", "go"}) {
		t.Errorf("Attrs = %q", got)
	}
	p.Click("#go")
	p.WaitText("#log", "clicked")
	browsertest.Eval[string](p, "document.getElementById('log').textContent = ''")
	p.Press("#go", "\r")
	p.WaitText("#log", "clicked")
	p.WaitVisible("#opener")
	p.Press("#opener", "\r")
	p.WaitVisible("#close")
	if !browsertest.Eval[bool](p, "!document.getElementById('panel').hidden && document.activeElement.id === 'close'") {
		t.Error("Enter on #opener did not leave #panel open with the focus on its Close button")
	}
	if !browsertest.Eval[bool](p, "matchMedia('(prefers-color-scheme: light)').matches") {
		t.Error("the page sees dark mode before Dark")
	}
	p.Dark()
	if !browsertest.Eval[bool](p, "matchMedia('(prefers-color-scheme: dark)').matches") {
		t.Error("the page does not see dark mode after Dark")
	}
	path := p.Screenshot("page")
	b, err := os.ReadFile(path)
	if err != nil || !bytes.HasPrefix(b, []byte("\x89PNG")) {
		t.Errorf("screenshot %s: %v, not a PNG", path, err)
	}
	if c := p.Console(); len(c) != 0 {
		t.Errorf("console errors: %q", c)
	}
}

// TestWaitFails: a wait that cannot be met fails the test by its deadline,
// naming what it waited for and what it saw.
func TestWaitFails(t *testing.T) {
	tests := []struct {
		name string
		wait func(p *browsertest.Page)
		want string
	}{
		{"attr", func(p *browsertest.Page) { p.WaitAttr("#state", "data-state", "NEVER") }, `#state to have data-state="NEVER"; saw "DONE"`},
		{"element", func(p *browsertest.Page) { p.Wait("#nosuch") }, `an element #nosuch; saw "a page whose text begins: DONE`},
		{"count", func(p *browsertest.Page) { p.WaitCount("#items li", 4) }, "4 elements #items li; saw 3"},
		{"visible", func(p *browsertest.Page) { p.WaitVisible("#close") }, `#close to be visible; saw "an element not drawn: <button id=\"close\">`},
		{"text", func(p *browsertest.Page) { p.WaitText("#nosuch", "x") }, `saw "no element"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ft := &fakeT{TB: t}
			fp := browsertest.New(ft)
			fp.Navigate(pageURL(t))
			fp.WaitAttr("#state", "data-state", "DONE")
			fp.Timeout = time.Second
			start := time.Now()
			ft.run(func() { tt.wait(fp) })
			if !strings.Contains(ft.msg, tt.want) || !strings.Contains(ft.msg, "waited 1s for") {
				t.Errorf("failure %q, want one with %q", ft.msg, tt.want)
			}
			if d := time.Since(start); d > 30*time.Second {
				t.Errorf("a wait of 1s took %s", d)
			}
		})
	}
}

// fakeT records a Fatalf instead of failing the test, to check the
// messages of failing waits.
type fakeT struct {
	testing.TB
	msg string
}

func (f *fakeT) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	panic(f)
}

func (f *fakeT) run(fn func()) {
	defer func() {
		if r := recover(); r != nil && r != any(f) {
			panic(r)
		}
	}()
	fn()
}

// TestOffline: once offline, a page's request to a server fails and the
// server sees nothing, but the page itself, from a file, still works.
func TestOffline(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	p := browsertest.New(t)
	p.Offline()
	img := srv.URL + "/pixel.png"
	p.Navigate(pageURL(t) + "?img=" + img)
	p.WaitAttr("#state", "data-state", "DONE")
	// The image's request is made, and fails, before the load event.
	if n := hits.Load(); n != 0 {
		t.Errorf("offline, the server got %d requests", n)
	}
	if !slices.Contains(p.Requests(), img) {
		t.Errorf("requests %q do not include %s", p.Requests(), img)
	}
}
