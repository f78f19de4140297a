// Command kinds serves omp's built-in kinds the way `omp plugin-serve KIND`
// does, for the runtime's tests: they then run real plugin processes without
// depending on the CLI package building at that moment.
package main

import (
	"fmt"
	"os"

	"github.com/ompdev/omp/plugins/builtin"
	"github.com/ompdev/omp/plugins/sdk"
)

func main() {
	if len(os.Args) != 3 || os.Args[1] != "plugin-serve" {
		fmt.Fprintln(os.Stderr, "usage: kinds plugin-serve KIND")
		os.Exit(2)
	}
	k, ok := builtin.Kinds()[os.Args[2]]
	if !ok {
		fmt.Fprintf(os.Stderr, "no built-in kind %q\n", os.Args[2])
		os.Exit(2)
	}
	sdk.Serve(k)
}
