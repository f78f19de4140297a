package main

// The store's cloud drivers, registered here rather than in package store so
// that a kind's module, which imports the store, does not build their SDKs.
import (
	_ "gocloud.dev/blob/azureblob" // azblob:// URLs
	_ "gocloud.dev/blob/gcsblob"   // gs:// URLs
	_ "gocloud.dev/blob/s3blob"    // s3:// URLs
)
