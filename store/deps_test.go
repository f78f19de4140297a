package store

import (
	"testing"

	"github.com/ompdev/omp/internal/testbin"
)

// TestStoreDoesNotBuildTheCloudSDKs: the cloud drivers are registered by
// the main package, so that a kind's module builds none of their SDKs.
func TestStoreDoesNotBuildTheCloudSDKs(t *testing.T) {
	testbin.NoDeps(t, "github.com/ompdev/omp/store",
		"gocloud.dev/blob/s3blob", "gocloud.dev/blob/gcsblob", "gocloud.dev/blob/azureblob", "github.com/aws/", "cloud.google.com/", "github.com/Azure/")
}
