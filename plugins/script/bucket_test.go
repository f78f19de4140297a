package script

import (
	"context"
	"testing"

	"github.com/ompdev/omp/plugins/sdk"
	"github.com/ompdev/omp/plugins/sdk/sdktest"
	"github.com/ompdev/omp/store"
)

// TestBucketStore runs scripts kept in a bucket (gocloud.dev's in-memory
// one), which are fetched before they run.
func TestBucketStore(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, "mem://")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for name, body := range map[string]string{
		"scripts/plain":        "#!/bin/sh\necho \"$OMP_STORE\"\n",
		"scripts/plain.py":     "print('the file without extension wins')\n",
		"scripts/square.py":    "import json, sys\nprint(json.dumps(json.load(sys.stdin)['args'][0] ** 2))\n",
		"scripts/where.sh":     "test -f scripts/where.sh && echo fetched\n",
		"scripts/twice.py":     "",
		"scripts/twice.sh":     "",
		"scripts/sub/deep.sh":  "echo deep\n",
		"scripts/squarely.txt": "not square.*",
	} {
		if err := st.Put(ctx, name, []byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name, args, want, err string
		permanent             bool
	}{
		{name: "plain", want: `"mem://"`},
		{name: "square", args: `[12]`, want: `144`},
		{name: "where", want: `"fetched"`},
		{name: "sub/deep", want: `"deep"`},
		{name: "twice", err: "script twice is ambiguous: scripts/twice.py, scripts/twice.sh", permanent: true},
		{name: "nope", err: "script nope not found: no scripts/nope or scripts/nope.* in mem://", permanent: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tk := sdk.Task{Kind: "script", Name: tc.name, Action: "run", Store: "mem://", Attempt: 1}
			if tc.args != "" {
				tk.Args = rawList(t, tc.args)
			}
			res, err := runFrom(ctx, st, tk, &sdktest.Recorder{})
			if tc.err != "" {
				if err == nil || err.Error() != tc.err || sdk.IsPermanent(err) != tc.permanent {
					t.Fatalf("err = %v (permanent %v), want %q (permanent %v)", err, sdk.IsPermanent(err), tc.err, tc.permanent)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := result(t, res); got != tc.want {
				t.Errorf("result %s, want %s", got, tc.want)
			}
		})
	}
}
