package linewriter

import (
	"slices"
	"strings"
	"testing"
)

func TestWriter(t *testing.T) {
	tests := []struct {
		name   string
		max    int
		writes []string
		flush  bool
		want   []string
	}{
		{name: "whole lines", writes: []string{"a\nb\n"}, want: []string{"a", "b"}},
		{name: "line across writes", writes: []string{"ab", "c\nd", "e\n"}, want: []string{"abc", "de"}},
		{name: "empty lines kept", writes: []string{"\n\na\n"}, want: []string{"", "", "a"}},
		{name: "carriage return kept", writes: []string{"a\r\n"}, want: []string{"a\r"}},
		{name: "unended line waits", writes: []string{"a\nb"}, want: []string{"a"}},
		{name: "flush passes the unended line", writes: []string{"a\nb"}, flush: true, want: []string{"a", "b"}},
		{name: "flush after an ended line adds nothing", writes: []string{"a\n"}, flush: true, want: []string{"a"}},
		{name: "max bounds an unended line", max: 3, writes: []string{"abcd", "ef\n"}, want: []string{"abcd", "ef"}},
		{name: "max leaves a shorter line waiting", max: 3, writes: []string{"abc", "d\n"}, want: []string{"abcd"}},
		{name: "no max, no bound", writes: []string{strings.Repeat("x", 1<<17), "\n"}, want: []string{strings.Repeat("x", 1<<17)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			w := &Writer{Max: tt.max, Line: func(l string) { got = append(got, l) }}
			for _, s := range tt.writes {
				n, err := w.Write([]byte(s))
				if n != len(s) || err != nil {
					t.Fatalf("Write(%q) = %d, %v; want %d, nil", s, n, err, len(s))
				}
			}
			if tt.flush {
				w.Flush()
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("lines = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestTail(t *testing.T) {
	tail := &Tail{Max: 2}
	if got := tail.Lines(); len(got) != 0 {
		t.Fatalf("empty tail has %q", got)
	}
	for _, l := range []string{"a", "b", "c"} {
		tail.Add(l)
	}
	got := tail.Lines()
	if want := []string{"b", "c"}; !slices.Equal(got, want) {
		t.Fatalf("Lines = %q, want %q", got, want)
	}
	got[0] = "changed"
	if tail.Lines()[0] != "b" {
		t.Error("Lines returned the tail's own slice")
	}
}
