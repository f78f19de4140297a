package store

import (
	"bytes"
	"context"
	"fmt"
	"testing"
)

func BenchmarkPutGet(b *testing.B) {
	ctx := context.Background()
	for _, size := range []int{4 << 10, 1 << 20} {
		data := bytes.Repeat([]byte{'x'}, size)
		for _, loc := range []string{"dir", "mem://"} {
			if loc == "dir" {
				loc = b.TempDir()
			}
			s, err := Open(ctx, loc)
			if err != nil {
				b.Fatal(err)
			}
			kind := "dir"
			if _, ok := s.Dir(); !ok {
				kind = "mem"
			}
			b.Run(fmt.Sprintf("Put/%s/%dKiB", kind, size>>10), func(b *testing.B) {
				b.SetBytes(int64(size))
				for b.Loop() {
					if err := s.Put(ctx, "datasets/x.csv", data); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run(fmt.Sprintf("Get/%s/%dKiB", kind, size>>10), func(b *testing.B) {
				b.SetBytes(int64(size))
				for b.Loop() {
					if _, err := s.Get(ctx, "datasets/x.csv"); err != nil {
						b.Fatal(err)
					}
				}
			})
			s.Close()
		}
	}
}
