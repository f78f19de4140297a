package compiler_test

import (
	"testing"
	"time"

	"github.com/ompdev/omp/compiler"
	"github.com/ompdev/omp/lang"
)

func TestScheduleNext(t *testing.T) {
	from := time.Date(2026, 3, 28, 23, 59, 30, 0, time.UTC)
	tests := []struct {
		opts string
		want []string // the next three ticks, RFC 3339 in UTC
	}{
		{`schedule="@every 2s"`, []string{"2026-03-28T23:59:32Z", "2026-03-28T23:59:34Z", "2026-03-28T23:59:36Z"}},
		{`schedule="@every 10m"`, []string{"2026-03-29T00:00:00Z", "2026-03-29T00:10:00Z", "2026-03-29T00:20:00Z"}},
		{`schedule="@hourly"`, []string{"2026-03-29T00:00:00Z", "2026-03-29T01:00:00Z", "2026-03-29T02:00:00Z"}},
		// Zurich moves to summer time on 29 March 2026: 02:00 local does
		// not exist that night, so (as cron does) there is no tick then.
		{`schedule="0 2 * * *", timezone="Europe/Zurich"`, []string{"2026-03-30T00:00:00Z", "2026-03-31T00:00:00Z", "2026-04-01T00:00:00Z"}},
		{`schedule="*/15 9-17 * * MON-FRI", timezone="America/New_York"`, []string{"2026-03-30T13:00:00Z", "2026-03-30T13:15:00Z", "2026-03-30T13:30:00Z"}},
	}
	for _, tt := range tests {
		t.Run(tt.opts, func(t *testing.T) {
			f, err := lang.Parse("s.omp", []byte("pipeline p with "+tt.opts+" { echo a() }\n"))
			if err != nil {
				t.Fatal(err)
			}
			scheds, err := compiler.Schedules(f)
			if err != nil || len(scheds) != 1 {
				t.Fatalf("Schedules = %v, %v", scheds, err)
			}
			at := from
			for i, w := range tt.want {
				at = scheds[0].Next(at)
				if got := at.UTC().Format(time.RFC3339); got != w {
					t.Errorf("tick %d = %s, want %s", i, got, w)
				}
			}
		})
	}
}

func TestSchedulesDefaults(t *testing.T) {
	f, err := lang.Parse("s.omp", []byte("pipeline p with schedule=\"@daily\" { echo a() }\npipeline q { echo b() }\n"))
	if err != nil {
		t.Fatal(err)
	}
	scheds, err := compiler.Schedules(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(scheds) != 1 {
		t.Fatalf("%d schedules, want 1 (q has none)", len(scheds))
	}
	s := scheds[0]
	if s.Pipeline != "p" || s.Zone != "UTC" || s.Overlap != "skip" || s.Catchup || s.Pos.Line != 1 {
		t.Errorf("schedule = %+v, want p in UTC, overlap skip, no catchup, at line 1", s)
	}
}
