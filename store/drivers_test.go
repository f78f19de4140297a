package store

// The tests open s3:// and list the schemes that a binary has, as cmd/omp
// does; the library itself registers only file:// and mem://.
import (
	_ "gocloud.dev/blob/azureblob"
	_ "gocloud.dev/blob/gcsblob"
	_ "gocloud.dev/blob/s3blob"
)
