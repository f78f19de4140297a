package main

import (
	"testing"

	"gocloud.dev/blob"
)

// TestStoreDrivers: package store leaves the cloud drivers to the main
// package, so omp must register them itself for --store s3://… to work.
func TestStoreDrivers(t *testing.T) {
	for _, scheme := range []string{"file", "mem", "s3", "gs", "azblob"} {
		if !blob.DefaultURLMux().ValidBucketScheme(scheme) {
			t.Errorf("omp registers no store driver for %s://", scheme)
		}
	}
}
