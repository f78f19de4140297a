package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/textproto"
	"os"
	"strconv"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"
)

// cmdLSPFrame frames the JSON messages of a file, one a line, as an editor
// sends them to a language server (a Content-Length header each):
// `lspframe requests.jsonl requests.bin`. Blank lines and lines starting
// with # are skipped.
func cmdLSPFrame(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: lspframe IN OUT")
	}
	var b bytes.Buffer
	for _, line := range strings.Split(ts.ReadFile(args[0]), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", len(line), line)
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[1]), b.Bytes(), 0o644))
}

// cmdLSPUnframe writes the messages of a language server's framed output
// (a file, or stdout for the last command's) one a line:
// `lspunframe stdout replies.jsonl`.
func cmdLSPUnframe(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: lspunframe IN OUT")
	}
	r := bufio.NewReader(strings.NewReader(ts.ReadFile(args[0])))
	var out bytes.Buffer
	for {
		h, err := textproto.NewReader(r).ReadMIMEHeader()
		if err == io.EOF && len(h) == 0 {
			break
		}
		ts.Check(err)
		n, err := strconv.Atoi(h.Get("Content-Length"))
		ts.Check(err)
		body := make([]byte, n)
		_, err = io.ReadFull(r, body)
		ts.Check(err)
		out.Write(body)
		out.WriteByte('\n')
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[1]), out.Bytes(), 0o644))
}
