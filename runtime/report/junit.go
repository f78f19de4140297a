package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"

	"github.com/ompdev/omp/runtime"
)

// The JUnit schema as Jenkins, GitLab and GitHub read it: one testsuite per
// run, one testcase per task.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name      string          `xml:"name,attr"`
	Tests     int             `xml:"tests,attr"`
	Failures  int             `xml:"failures,attr"`
	Errors    int             `xml:"errors,attr"`
	Skipped   int             `xml:"skipped,attr"`
	Time      string          `xml:"time,attr"`
	Timestamp string          `xml:"timestamp,attr,omitempty"`
	Props     []junitProperty `xml:"properties>property,omitempty"`
	Cases     []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string `xml:"name,attr"`
	Classname string `xml:"classname,attr"`
	Time      string `xml:"time,attr"`
	File      string `xml:"file,attr,omitempty"`
	Line      string `xml:"line,attr,omitempty"`
	// Props mark a cached task: a passed test that did not run.
	Props     *junitProps   `xml:"properties,omitempty"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	Skipped   *junitSkipped `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitProps struct {
	Property []junitProperty `xml:"property"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

// WriteJUnit writes r as JUnit XML: one testcase per task (reduce nodes
// included, since a reducer can fail too), a failure with the error and the
// log tail for every failed task, skipped for every cancelled one. name names
// the suite, usually the pipeline file.
func WriteJUnit(w io.Writer, name string, r *runtime.Report) error {
	suite := junitSuite{
		Name:  name,
		Time:  seconds(r.Duration),
		Props: []junitProperty{{Name: "run_id", Value: r.RunID}, {Name: "status", Value: string(r.Status)}},
	}
	if !r.Started.IsZero() {
		suite.Timestamp = r.Started.UTC().Format("2006-01-02T15:04:05")
	}
	// The tasks of a comprehension share a title; a CI system that keys
	// test cases by name would merge them, so repeated titles get the id.
	seen := map[string]int{}
	for _, t := range r.Tasks {
		seen[TaskTitle(t)]++
	}
	for _, t := range r.Tasks {
		name := TaskTitle(t)
		if seen[name] > 1 {
			name += " [" + t.ID + "]"
		}
		c := junitCase{
			Name:      name,
			Classname: t.Kind,
			Time:      seconds(t.Duration),
		}
		if file, line, ok := splitPos(t.Pos); ok {
			c.File, c.Line = file, line
		}
		log := strings.Join(t.Log, "\n")
		switch t.State {
		case runtime.Failure:
			suite.Failures++
			c.Failure = &junitFailure{Message: firstLine(t.Error), Type: "FAILURE", Text: t.Error}
			if log != "" {
				c.Failure.Text += "\n\nlog:\n" + log
			}
		case runtime.Cancelled:
			suite.Skipped++
			msg := t.Error
			if msg == "" {
				msg = "cancelled"
			}
			c.Skipped = &junitSkipped{Message: msg}
		case runtime.Cached:
			c.Props = &junitProps{[]junitProperty{{Name: "cached", Value: "true"}}}
		default:
			c.SystemOut = log
		}
		suite.Tests++
		suite.Cases = append(suite.Cases, c)
	}
	doc := junitSuites{
		Name:     name,
		Tests:    suite.Tests,
		Failures: suite.Failures,
		Skipped:  suite.Skipped,
		Time:     suite.Time,
		Suites:   []junitSuite{suite},
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func seconds(s float64) string { return fmt.Sprintf("%.3f", s) }

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// splitPos splits "file:line:col" into file and line.
func splitPos(pos string) (file, line string, ok bool) {
	parts := strings.Split(pos, ":")
	if len(parts) < 3 {
		return "", "", false
	}
	return strings.Join(parts[:len(parts)-2], ":"), parts[len(parts)-2], true
}
