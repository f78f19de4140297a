package main

import (
	"net"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestServeScripts runs testdata/serve/*.txtar, the scripts of omp serve
// and omp submit. Each gets a free port in $PORT and 127.0.0.1:$PORT in
// $ADDR, for a server started in the background.
func TestServeScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/serve",
		Setup: func(env *testscript.Env) error {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return err
			}
			port := ln.Addr().(*net.TCPAddr).Port
			ln.Close()
			env.Setenv("PORT", strconv.Itoa(port))
			env.Setenv("ADDR", "127.0.0.1:"+strconv.Itoa(port))
			env.Setenv("OMP_TOKEN", "")
			return nil
		},
		RequireExplicitExec: true,
		UpdateScripts:       os.Getenv("UPDATE_SCRIPTS") != "",
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"status":    cmdStatus,
			"until":     cmdUntil,
			"waitserve": cmdWaitServe,
			"jsonlines": cmdJSONLines,
		},
	})
}

// cmdWaitServe waits, for up to a minute, until the omp serve at ADDR
// answers /healthz: `waitserve $ADDR`.
func cmdWaitServe(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: waitserve ADDR")
	}
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := http.Get("http://" + args[0] + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			ts.Fatalf("no omp serve answered on %s within a minute (%v)", args[0], err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
