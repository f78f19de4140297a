package main

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"
)

// setupGoBuild lets testdata/script/http_*.txtar build a plugin from this
// checkout ($EXAMPLES/..): a script's HOME is /no-home, so it gets the go
// command's caches and settings as this test sees them.
func setupGoBuild(env *testscript.Env) error {
	if !strings.HasPrefix(filepath.Base(env.WorkDir), "script-http_") {
		return nil
	}
	out, err := exec.Command("go", "env", "-json", "GOCACHE", "GOMODCACHE", "GOPATH", "GOFLAGS", "GOPROXY", "GOTOOLCHAIN").Output()
	if err != nil {
		return fmt.Errorf("go env: %v", err)
	}
	var vars map[string]string
	if err := json.Unmarshal(out, &vars); err != nil {
		return fmt.Errorf("go env: %v", err)
	}
	for k, v := range vars {
		env.Setenv(k, v)
	}
	return nil
}
