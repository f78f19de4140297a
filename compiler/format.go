package compiler

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"
)

// WriteJSON writes the graph in its stable machine form (see spec.md):
// indented JSON with fields in a fixed order and map keys sorted.
func (g *Graph) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(g)
}

// Describe renders a node for a person: `job myjob(1) @gpu` for a task,
// `reduce sum` for a reducer.
func Describe(n *Node) string {
	if n.Op == OpReduce {
		if n.Spread {
			return "reduce " + n.Reducer + " (spread)"
		}
		return "reduce " + n.Reducer
	}
	var b strings.Builder
	b.WriteString(n.Kind + " " + n.Name)
	if n.Action != "run" {
		b.WriteString("." + n.Action)
	}
	b.WriteByte('(')
	for i, a := range n.Args {
		if i > 0 {
			b.WriteString(", ")
		}
		writeValue(&b, a)
	}
	keys := make([]string, 0, len(n.Kwargs))
	for k := range n.Kwargs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		if i > 0 || len(n.Args) > 0 {
			b.WriteString(", ")
		}
		b.WriteString(k + "=")
		writeValue(&b, n.Kwargs[k])
	}
	b.WriteByte(')')
	if n.Label != DefaultLabel {
		b.WriteString(" @" + n.Label)
	}
	var opts []string
	if n.Opts.Retries > 0 {
		opts = append(opts, "retries="+strconv.Itoa(n.Opts.Retries))
	}
	if n.Opts.Timeout > 0 {
		opts = append(opts, "timeout="+fmtDuration(n.Opts.Timeout))
	}
	if n.Opts.Backoff > 0 {
		opts = append(opts, "backoff="+fmtDuration(n.Opts.Backoff))
	}
	if len(opts) > 0 {
		b.WriteString(" with " + strings.Join(opts, ", "))
	}
	return b.String()
}

// fmtDuration drops the zero units time.Duration.String adds (5m0s -> 5m).
func fmtDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func writeValue(b *strings.Builder, v any) {
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case string:
		b.WriteString(strconv.Quote(x))
	case int64:
		b.WriteString(strconv.FormatInt(x, 10))
	case float64:
		s := strconv.FormatFloat(x, 'g', -1, 64)
		if !strings.ContainsAny(s, ".eEIN") {
			s += ".0"
		}
		b.WriteString(s)
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case Ref:
		b.WriteString("$" + x.Node)
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			writeValue(b, e)
		}
		b.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(strconv.Quote(k) + ": ")
			writeValue(b, x[k])
		}
		b.WriteByte('}')
	default:
		fmt.Fprint(b, x)
	}
}

// Edges calls fn for every edge, in the order omp graph draws them: from an
// input (data) or from a node a Ref names (ref).
func (g *Graph) Edges(fn func(from, to string, ref bool)) {
	for _, n := range g.Nodes {
		in := map[string]bool{}
		for _, i := range n.Inputs {
			in[i] = true
			fn(i, n.ID, false)
		}
		for _, d := range n.Deps {
			if !in[d] {
				fn(d, n.ID, true)
			}
		}
	}
}

// WriteDOT writes the graph in Graphviz DOT: tasks as boxes, reducers as
// ellipses, inputs as solid edges, let references as dashed ones, and the
// statements' results double-bordered.
func (g *Graph) WriteDOT(w io.Writer) error {
	bw := bufio.NewWriter(w)
	outputs := g.outputSet()
	fmt.Fprintf(bw, "digraph %s {\n", dotQuote("omp"))
	bw.WriteString("  rankdir=LR;\n  node [shape=box, fontname=\"Helvetica\"];\n")
	for _, n := range g.Nodes {
		attrs := "label=" + dotQuote(n.ID+"\n"+Describe(n))
		if n.Op == OpReduce {
			attrs += ", shape=ellipse"
		}
		if outputs[n.ID] {
			attrs += ", peripheries=2"
		}
		fmt.Fprintf(bw, "  %s [%s];\n", dotQuote(n.ID), attrs)
	}
	g.Edges(func(from, to string, ref bool) {
		style := ""
		if ref {
			style = " [style=dashed]"
		}
		fmt.Fprintf(bw, "  %s -> %s%s;\n", dotQuote(from), dotQuote(to), style)
	})
	bw.WriteString("}\n")
	return bw.Flush()
}

func (g *Graph) outputSet() map[string]bool {
	m := make(map[string]bool, len(g.Outputs))
	for _, o := range g.Outputs {
		m[o.Node] = true
	}
	return m
}

// dotQuote quotes s as a DOT string; DOT knows only the escapes \" and \\
// (and \n inside labels).
func dotQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

// WriteMermaid writes the graph as a Mermaid flowchart that can be pasted
// into any Mermaid renderer: node IDs are generated (n1, n2, ...), since
// Mermaid gives dots and dashes in IDs meanings of their own, and labels are
// quoted with every character Mermaid could misread written as an entity.
func (g *Graph) WriteMermaid(w io.Writer) error {
	bw := bufio.NewWriter(w)
	outputs := g.outputSet()
	ids := make(map[string]string, len(g.Nodes))
	bw.WriteString("flowchart LR\n")
	for i, n := range g.Nodes {
		id := "n" + strconv.Itoa(i+1)
		ids[n.ID] = id
		label := mermaidEscape(n.ID) + "<br/>" + mermaidEscape(Describe(n))
		open, close := "[", "]"
		if n.Op == OpReduce {
			open, close = "([", "])"
		}
		fmt.Fprintf(bw, "  %s%s\"%s\"%s\n", id, open, label, close)
	}
	g.Edges(func(from, to string, ref bool) {
		arrow := "-->"
		if ref {
			arrow = "-.->"
		}
		fmt.Fprintf(bw, "  %s %s %s\n", ids[from], arrow, ids[to])
	})
	var outs []string
	for _, n := range g.Nodes {
		if outputs[n.ID] {
			outs = append(outs, ids[n.ID])
		}
	}
	if len(outs) > 0 {
		bw.WriteString("  classDef output stroke-width:3px\n")
		fmt.Fprintf(bw, "  class %s output\n", strings.Join(outs, ","))
	}
	return bw.Flush()
}

// mermaidEscape writes the characters that end or confuse a quoted Mermaid
// label as HTML entities in Mermaid's #name; form.
func mermaidEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString("#quot;")
		case '#':
			b.WriteString("#35;")
		case '<':
			b.WriteString("#lt;")
		case '>':
			b.WriteString("#gt;")
		case '&':
			b.WriteString("#amp;")
		case '`':
			b.WriteString("#96;")
		case '\n', '\r':
			b.WriteString(" ")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
