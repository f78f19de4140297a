// Package wire is the gRPC protocol between the plugin host and a kind's
// plugin process, and the go-plugin handshake both sides must agree on. It is
// internal: kinds see package sdk, the runner sees package host.
package wire

//go:generate protoc --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative wire.proto

import "github.com/hashicorp/go-plugin"

// Handshake is the go-plugin handshake. ProtocolVersion changes whenever
// wire.proto changes incompatibly, so an old plugin fails to start with a
// clear error instead of misbehaving.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  1,
	MagicCookieKey:   "OMP_PLUGIN",
	MagicCookieValue: "omp-task-kind-8c1f3e7a",
}

// PluginName is the single plugin every kind process serves.
const PluginName = "kind"

// MaxMessage bounds one gRPC message either way: a task with its input, or
// a result. gRPC's default of 4 MiB is too small for the datasets that pass
// between tasks.
const MaxMessage = 1 << 30
