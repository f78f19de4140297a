package record

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/ompdev/omp/runtime/cachekey"
)

// TestEncodeParts: encodeParts writes what json.Marshal writes, escapes and
// all, since both forms end up in the history.
func TestEncodeParts(t *testing.T) {
	odd := []string{"", "plain", `q"uote`, `back\slash`, "<html>&", "tab\there", "new\nline", "é ü 日本",
		"\u2028\u2029", "bad\xffutf8", "del\x7f", "nul\x00"}
	cases := [][]cachekey.Part{
		nil,
		{},
		{{Name: "kind", Value: "echo", Digest: "sha256:ab"}},
		{{Name: "argument 1", Digest: "sha256:cd", Refs: []string{"s1.1", "s1.2"}}, {Name: "input", Value: "none", Digest: "sha256:ef", Refs: []string{}}},
	}
	for _, s := range odd {
		cases = append(cases, []cachekey.Part{{Name: s, Value: s, Digest: s, Refs: []string{s, "x"}}})
	}
	for _, parts := range cases {
		want, err := json.Marshal(parts)
		if err != nil {
			t.Fatal(err)
		}
		if got := encodeParts(parts); !bytes.Equal(got, want) {
			t.Errorf("encodeParts(%#v)\n got %s\nwant %s", parts, got, want)
		}
	}
}
