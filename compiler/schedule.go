package compiler

import (
	"fmt"
	"strings"
	"time"

	"github.com/alecthomas/participle/v2/lexer"
	"github.com/robfig/cron/v3"

	"github.com/ompdev/omp/lang"
)

// Schedule is when a server runs a pipeline block: the options of
// `pipeline NAME with schedule="…", timezone="…", overlap="…", catchup=…`.
type Schedule struct {
	Pipeline string `json:"pipeline"`
	// Spec is the schedule as written: five cron fields, @hourly, @daily,
	// @weekly, @monthly, or @every DURATION.
	Spec string `json:"schedule"`
	// Zone is the IANA time zone the cron fields are read in.
	Zone string `json:"timezone"`
	// Overlap is "skip" (a tick while the previous scheduled run of the
	// pipeline still runs is recorded as skipped) or "allow".
	Overlap string `json:"overlap"`
	// Catchup says whether ticks missed while no server ran fire late.
	Catchup bool `json:"catchup"`
	Pos     Pos  `json:"pos"`

	loc   *time.Location
	cron  cron.Schedule
	every time.Duration
}

// MinEvery is the shortest @every interval.
const MinEvery = time.Second

// scheduleOptions are the options a pipeline block takes.
var scheduleOptions = []string{"schedule", "timezone", "overlap", "catchup"}

// cronFields name the five fields of a cron expression, each with the
// parser that reads it alone, so that an error can say which field is bad.
var cronFields = []struct {
	name string
	opt  cron.ParseOption
}{
	{"minute", cron.Minute},
	{"hour", cron.Hour},
	{"day-of-month", cron.Dom},
	{"month", cron.Month},
	{"day-of-week", cron.Dow},
}

var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Next returns the first tick strictly after t, in the schedule's zone.
// Every replica computes the same ticks: @every ticks are multiples of the
// interval since the Unix epoch, not counted from when a server started.
func (s *Schedule) Next(t time.Time) time.Time {
	if s.every > 0 {
		u := t.Unix()
		d := int64(s.every / time.Second)
		return time.Unix((u/d+1)*d, 0).In(s.loc)
	}
	return s.cron.Next(t.In(s.loc))
}

// Location is the schedule's time zone.
func (s *Schedule) Location() *time.Location { return s.loc }

// Schedules returns the schedule of every pipeline block of f that has one,
// in source order. The error, if any, is a lang.ErrorList sorted by
// position.
func Schedules(f *lang.File) ([]*Schedule, error) {
	c := &compiler{file: f.Name, params: map[string]*param{}, values: map[string]any{}}
	var out []*Schedule
	for _, s := range f.Stmts {
		if s.Pipeline != nil {
			if sc := c.schedule(s.Pipeline); sc != nil {
				out = append(out, sc)
			}
		}
	}
	if len(c.errs) > 0 {
		c.errs.Sort()
		return nil, c.errs
	}
	return out, nil
}

// schedule checks a block's options and returns its schedule, or nil when
// it has none (or has an error, which is recorded).
func (c *compiler) schedule(b *lang.Pipeline) *Schedule {
	if len(b.Opts) == 0 {
		return nil
	}
	s := &Schedule{Pipeline: b.Name, Zone: "UTC", Overlap: "skip", Pos: toPos(b.Pos), loc: time.UTC}
	before := len(c.errs)
	seen := map[string]*lang.Option{}
	for _, o := range b.Opts {
		if seen[o.Key] != nil {
			c.errorf(o.Pos, "option %s given twice", o.Key)
			continue
		}
		seen[o.Key] = o
		switch o.Key {
		case "schedule", "timezone", "overlap":
			if o.Value.Str == nil {
				c.errorf(o.Value.Pos, "%s must be a string, got %s", o.Key, describe(c.literal(o.Value, "an option")))
				continue
			}
		case "catchup":
			if o.Value.Bool == nil {
				c.errorf(o.Value.Pos, "catchup must be true or false, got %s", describe(c.literal(o.Value, "an option")))
				continue
			}
			s.Catchup = bool(*o.Value.Bool)
		default:
			c.errorf(o.Pos, "unknown pipeline option %s%s", o.Key, hintOrList(o.Key, scheduleOptions, "options"))
		}
	}
	if o := seen["timezone"]; o != nil && o.Value.Str != nil {
		name := string(*o.Value.Str)
		// "Local" would make the ticks depend on the machine's zone, so
		// that two replicas could disagree.
		loc, err := time.LoadLocation(name)
		if err != nil || name == "" || name == "Local" {
			c.errorf(o.Value.Pos, "unknown time zone %q: use an IANA name such as Europe/Zurich or UTC", name)
		} else {
			s.Zone, s.loc = name, loc
		}
	}
	if o := seen["overlap"]; o != nil && o.Value.Str != nil {
		switch v := string(*o.Value.Str); v {
		case "skip", "allow":
			s.Overlap = v
		default:
			c.errorf(o.Value.Pos, "overlap must be \"skip\" or \"allow\", got %q", v)
		}
	}
	o := seen["schedule"]
	if o == nil {
		if len(c.errs) == before {
			c.errorf(b.Pos, "pipeline %s has options but no schedule", b.Name)
		}
		return nil
	}
	if o.Value.Str != nil {
		s.Spec = string(*o.Value.Str)
		c.parseSchedule(s, o.Value.Pos)
	}
	if len(c.errs) > before {
		return nil
	}
	return s
}

func (c *compiler) parseSchedule(s *Schedule, pos lexer.Position) {
	spec := strings.TrimSpace(s.Spec)
	if rest, ok := strings.CutPrefix(spec, "@every"); ok {
		d, err := time.ParseDuration(strings.TrimSpace(rest))
		switch {
		case err != nil:
			c.errorf(pos, "@every needs a duration such as 30s, 10m or 1h, got %q", strings.TrimSpace(rest))
		case d < MinEvery:
			c.errorf(pos, "@every %s is shorter than the minimum %s", fmtDuration(d), fmtDuration(MinEvery))
		case d%time.Second != 0:
			c.errorf(pos, "@every %s is not a whole number of seconds", fmtDuration(d))
		default:
			s.every = d
		}
		return
	}
	if strings.HasPrefix(spec, "@") {
		switch spec {
		case "@hourly", "@daily", "@weekly", "@monthly":
		default:
			c.errorf(pos, "unknown schedule %q: use five cron fields, @hourly, @daily, @weekly, @monthly or @every DURATION", spec)
			return
		}
	} else if fields, starts := fieldsAt(s.Spec); len(fields) != len(cronFields) {
		c.errorf(pos, "schedule %q has %d fields, want 5: minute hour day-of-month month day-of-week", spec, len(fields))
		return
	} else {
		for i, f := range fields {
			if _, err := cron.NewParser(cronFields[i].opt).Parse(f); err != nil {
				fp := pos
				// Point at the field when the string has no escapes to
				// shift the columns.
				if !strings.Contains(s.Spec, `\`) {
					fp.Column += 1 + starts[i]
					fp.Offset += 1 + starts[i]
				}
				c.errorf(fp, "bad %s field %q in schedule: %v", cronFields[i].name, f, err)
				return
			}
		}
	}
	sched, err := cronParser.Parse(spec)
	if err != nil {
		c.errorf(pos, "bad schedule %q: %v", spec, err)
		return
	}
	s.cron = sched
}

// String describes the schedule as written.
func (s *Schedule) String() string {
	return fmt.Sprintf("%s (%s)", s.Spec, s.Zone)
}

// fieldsAt is strings.Fields that also returns where each field starts.
func fieldsAt(s string) (fields []string, starts []int) {
	start := -1
	for i := 0; i <= len(s); i++ {
		space := i == len(s) || s[i] == ' ' || s[i] == '\t'
		switch {
		case space && start >= 0:
			fields, starts = append(fields, s[start:i]), append(starts, start)
			start = -1
		case !space && start < 0:
			start = i
		}
	}
	return fields, starts
}
