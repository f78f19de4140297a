package compiler

import (
	"strings"
	"testing"
)

// shape renders a graph compactly: one node a line as ID OP WHAT <- INPUTS,
// then the outputs.
func shape(g *Graph) string {
	var b strings.Builder
	for _, n := range g.Nodes {
		what := n.Kind + " " + n.Name
		if n.Op == OpReduce {
			what = n.Reducer
			if n.Spread {
				what += " spread"
			}
		}
		b.WriteString(n.ID + " " + string(n.Op) + " " + what)
		if len(n.Inputs) > 0 {
			b.WriteString(" <- " + strings.Join(n.Inputs, ","))
		}
		if extra := strings.Join(refsIn(n), ","); extra != "" {
			b.WriteString(" refs " + extra)
		}
		b.WriteString("; ")
	}
	var outs []string
	for _, o := range g.Outputs {
		outs = append(outs, o.Node)
	}
	b.WriteString("out " + strings.Join(outs, ","))
	return b.String()
}

// TestShapes pins down the graph shapes the runtime relies on (see Node's
// doc comment).
func TestShapes(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"card: a collect reduce over the block",
			"parallel < job myjob1(1) > -> reduce collect",
			"s1.1.1 task job myjob1; s1.2 reduce collect <- s1.1.1; out s1.2"},
		{"sequence: each stage has the previous as its only input",
			"echo a() -> echo b() -> echo c()",
			"s1.1 task echo a; s1.2 task echo b <- s1.1; s1.3 task echo c <- s1.2; out s1.3"},
		{"mapreduce is one reduce node over the members",
			"mapreduce < echo a(), echo b() > -> reduce sum",
			"s1.1.1 task echo a; s1.1.2 task echo b; s1.2 reduce sum <- s1.1.1,s1.1.2; out s1.2"},
		{"reduce after a single task spreads its result",
			"echo xs([1, 2]) -> reduce sum",
			"s1.1 task echo xs; s1.2 reduce sum spread <- s1.1; out s1.2"},
		{"a reduce task receives a collect node",
			"mapreduce < echo a(), echo b() > -> reduce script combine()",
			"s1.1.1 task echo a; s1.1.2 task echo b; s1.1.c reduce collect <- s1.1.1,s1.1.2; s1.2 task script combine <- s1.1.c; out s1.2"},
		{"fan-out: every member has the stage as input",
			"script s() -> parallel < echo a(), echo b() >",
			"s1.1 task script s; s1.2.1 task echo a <- s1.1; s1.2.2 task echo b <- s1.1; s1.2.c reduce collect <- s1.2.1,s1.2.2; out s1.2.c"},
		{"a block feeding a task is collected once",
			"parallel < echo a(), echo b() > -> parallel < echo c(), echo d() >",
			"s1.1.1 task echo a; s1.1.2 task echo b; s1.1.c reduce collect <- s1.1.1,s1.1.2; s1.2.1 task echo c <- s1.1.c; s1.2.2 task echo d <- s1.1.c; s1.2.c reduce collect <- s1.2.1,s1.2.2; out s1.2.c"},
		{"a nested block is collected as a member",
			"parallel < parallel < echo a(), echo b() >, echo c() > -> reduce concat",
			"s1.1.1.1 task echo a; s1.1.1.2 task echo b; s1.1.1.c reduce collect <- s1.1.1.1,s1.1.1.2; s1.1.2 task echo c; s1.2 reduce concat <- s1.1.1.c,s1.1.2; out s1.2"},
		{"a sequence ending in a block is reduced member by member",
			"sequence < echo a() -> parallel < echo b(), echo c() > > -> reduce sum",
			"s1.1.1.1 task echo a; s1.1.1.2.1 task echo b <- s1.1.1.1; s1.1.1.2.2 task echo c <- s1.1.1.1; s1.2 reduce sum <- s1.1.1.2.1,s1.1.1.2.2; out s1.2"},
		{"let as argument is a ref, as a stage an input; a let's block is collected",
			"let x = parallel < echo a(), echo b() >\nx -> echo c(x)\necho d([x])",
			"s1.1 task echo a; s1.2 task echo b; s1.c reduce collect <- s1.1,s1.2; s2.2 task echo c <- s1.c refs s1.c; s3 task echo d refs s1.c; out s1.c,s2.2,s3"},
		{"let names gathered by a block",
			"let x = echo a()\nlet y = echo b()\nparallel < x, y > -> reduce sum",
			"s1 task echo a; s2 task echo b; s3.2 reduce sum <- s1,s2; out s1,s2,s3.2"},
		{"an empty comprehension collects nothing",
			"parallel < echo a(i) for i in [] >",
			"s1.c reduce collect; out s1.c"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, err := compileSrc(t, "t.omp", tc.src, nil, "")
			if err != nil {
				t.Fatal(err)
			}
			checkInvariants(t, g)
			if got := shape(g); got != tc.want {
				t.Errorf("\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}
