// Command legacy is a kind served as a plugin built with an SDK older than
// the Tasks stream serves it: Describe and one Run call a task, Tasks
// unimplemented. The host's tests check that such a plugin still runs.
package main

import (
	"context"
	"encoding/json"
	"os"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/ompdev/omp/plugins/internal/wire"
)

type server struct{ wire.UnimplementedKindServer }

func (server) Describe(context.Context, *wire.DescribeRequest) (*wire.KindSpec, error) {
	return &wire.KindSpec{Name: "legacy", Actions: []*wire.ActionSpec{
		{Name: "run", MaxArgs: 1},
		{Name: "block", MinArgs: 1, MaxArgs: 1, Args: []string{"file"}},
	}}, nil
}

// Run echoes its argument after a log line; block logs, waits for its
// cancellation and writes what it saw to the file its argument names.
func (server) Run(t *wire.Task, stream grpc.ServerStreamingServer[wire.Event]) error {
	if err := stream.Send(&wire.Event{Event: &wire.Event_Log{Log: &wire.Log{Line: "legacy " + t.Action}}}); err != nil {
		return err
	}
	if t.Action == "block" {
		<-stream.Context().Done()
		var file string
		if err := json.Unmarshal(t.Args[0], &file); err != nil {
			return err
		}
		return os.WriteFile(file, []byte(stream.Context().Err().Error()), 0o644)
	}
	res := []byte("null")
	if len(t.Args) > 0 {
		res = t.Args[0]
	}
	return stream.Send(&wire.Event{Event: &wire.Event_Result{Result: &wire.Result{Json: res}}})
}

type kindPlugin struct{ plugin.NetRPCUnsupportedPlugin }

func (kindPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	wire.RegisterKindServer(s, server{})
	return nil
}

func (kindPlugin) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, nil
}

func main() {
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: wire.Handshake,
		Plugins:         plugin.PluginSet{wire.PluginName: kindPlugin{}},
		GRPCServer:      plugin.DefaultGRPCServer,
	})
}
