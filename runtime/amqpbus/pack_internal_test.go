package amqpbus

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"
)

func TestPackSize(t *testing.T) {
	tests := []struct{ n, max, want int }{
		{1, 16, 1},
		{64, 16, 1},
		{65, 16, 2},
		{1000, 16, 16},
		{10000, 16, 16},
		{10000, 1, 1},
	}
	for _, tt := range tests {
		if got := packSize(tt.n, tt.max); got != tt.want {
			t.Errorf("packSize(%d, %d) = %d, want %d", tt.n, tt.max, got, tt.want)
		}
	}
}

// Packing and unpacking gives back the same payloads, in order, with the run
// of each; a message that cannot travel in a pack goes on its own, in its
// place, and so does a run's message among another run's.
func TestPackRoundTrip(t *testing.T) {
	task := func(run string, i int) *message.Message {
		m := message.NewMessage(fmt.Sprint("m", i), []byte(fmt.Sprintf(`{"v":1,"run_id":%q,"task_id":"t%d"}`, run, i)))
		m.Metadata.Set(runHeader, run)
		return m
	}
	odd := task("r1", 99)
	odd.Metadata.Set("x-other", "1")
	notJSON := message.NewMessage("bad", []byte("not json"))
	notJSON.Metadata.Set(runHeader, "r1")

	tests := []struct {
		name string
		in   []*message.Message
		size int
		want string // each message sent: P(payloads) for a pack, S(payload) for a single
	}{
		{"one pack", []*message.Message{task("r1", 1), task("r1", 2), task("r1", 3)}, 4, "P(1,2,3)"},
		{"cut at size", []*message.Message{task("r1", 1), task("r1", 2), task("r1", 3)}, 2, "P(1,2) S(3)"},
		{"size 1 packs nothing", []*message.Message{task("r1", 1), task("r1", 2)}, 1, "S(1) S(2)"},
		{"another run", []*message.Message{task("r1", 1), task("r1", 2), task("r2", 3), task("r2", 4)}, 8, "P(1,2) P(3,4)"},
		{"metadata of its own", []*message.Message{task("r1", 1), odd, task("r1", 2), task("r1", 3)}, 8, "S(1) S(99) P(2,3)"},
		{"not JSON", []*message.Message{task("r1", 1), task("r1", 2), notJSON}, 8, "P(1,2) S(not json)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, m := range pack(tt.in, tt.size) {
				if !isPack(m.Metadata) {
					got = append(got, "S("+short(string(m.Payload))+")")
					continue
				}
				if m.Metadata.Get(runHeader) == "" {
					t.Errorf("pack %s has no run header", m.UUID)
				}
				parts, err := unpack(m)
				if err != nil {
					t.Fatal(err)
				}
				if n := m.Metadata.Get(packHeader); n != fmt.Sprint(len(parts)) {
					t.Errorf("header %s = %s, pack of %d", packHeader, n, len(parts))
				}
				var ps []string
				for _, p := range parts {
					if p.Metadata.Get(runHeader) != m.Metadata.Get(runHeader) || isPack(p.Metadata) {
						t.Errorf("part %s has metadata %v", p.UUID, p.Metadata)
					}
					ps = append(ps, short(string(p.Payload)))
				}
				got = append(got, "P("+strings.Join(ps, ",")+")")
			}
			if s := strings.Join(got, " "); s != tt.want {
				t.Errorf("sent %s, want %s", s, tt.want)
			}
		})
	}
}

// short is a task's number, or the payload of something else.
func short(payload string) string {
	if _, num, ok := strings.Cut(payload, `"task_id":"t`); ok {
		return strings.TrimSuffix(num, `"}`)
	}
	return payload
}

func TestSplit(t *testing.T) {
	tests := []struct{ in, want string }{
		{`[{"a":1}]`, `{"a":1}`},
		{` [ {"a":[1,2]} , {"b":"x,]}"} ,3]  `, `{"a":[1,2]}|{"b":"x,]}"}|3`},
		{`[{"s":"\"],"}, "\\"]`, `{"s":"\"],"}|"\\"`},
		{`[[1,[2]],{}]`, `[1,[2]]|{}`},
	}
	for _, tt := range tests {
		parts, err := split([]byte(tt.in))
		if err != nil {
			t.Errorf("split(%s): %v", tt.in, err)
			continue
		}
		var got []string
		for _, p := range parts {
			got = append(got, string(p))
		}
		if g := strings.Join(got, "|"); g != tt.want {
			t.Errorf("split(%s) = %s, want %s", tt.in, g, tt.want)
		}
	}
}

func TestUnpackRefusesBadPacks(t *testing.T) {
	for _, body := range []string{"", "[]", "{}", "[1,", "not json", "[1,,2]", "[1]x", "[1}]", `["]`} {
		m := message.NewMessage("p", []byte(body))
		m.Metadata.Set(packHeader, "2")
		if _, err := unpack(m); err == nil {
			t.Errorf("unpack(%q): no error", body)
		}
	}
}
