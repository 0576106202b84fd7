// Command pulumi-resource-command is DebVisor's own implementation of the
// `command:remote:Command` resource of the Pulumi Command provider, compatible
// with what the @pulumi/command 1.2.1 SDK sends. The upstream provider lives in
// a Go module the module proxy does not serve, so scripts/setup.sh builds this
// one instead (see scripts/toolchain/NOTES.md).
//
// It is a plain gRPC ResourceProvider built on the Pulumi Go SDK's protocol
// package: the engine starts it with its own gRPC address as the last
// argument and reads the port we listen on from our first line of stdout.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/grpclog"
)

// implementsVersion is the @pulumi/command version whose `command:remote:Command`
// schema this provider implements; GetPluginInfo reports it. setup.sh refuses to
// install this provider for any other pinned version.
const implementsVersion = "1.2.1"

// gRPC's own logging would otherwise write to our stderr, which the engine shows.
func init() { grpclog.SetLoggerV2(grpclog.NewLoggerV2(io.Discard, io.Discard, os.Stderr)) }

func main() {
	if err := serve(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-resource-command: %v\n", err)
		os.Exit(1)
	}
}

func serve(args []string) error {
	// The engine passes its address as the only positional argument; flags such
	// as -tracing or -v are accepted and ignored.
	var engineAddr string
	for _, a := range args {
		switch {
		case a == "-version" || a == "--version":
			fmt.Println(implementsVersion)
			return nil
		case !strings.HasPrefix(a, "-"):
			engineAddr = a
		}
	}

	var logger engineLogger = nopLogger{}
	// engineGone is cancelled when the engine stops answering health checks:
	// then nobody waits for our results, so running commands are aborted.
	engineGone, abandon := context.WithCancel(context.Background())
	defer abandon()
	if engineAddr != "" {
		conn, err := grpc.NewClient(engineAddr,
			grpc.WithTransportCredentials(insecure.NewCredentials()), rpcutil.GrpcChannelOptions())
		if err != nil {
			return fmt.Errorf("connecting to the engine at %s: %w", engineAddr, err)
		}
		defer conn.Close()
		logger = &rpcLogger{client: pulumirpc.NewEngineClient(conn)}
		if err := rpcutil.Healthcheck(engineGone, engineAddr, 5*time.Minute, abandon); err != nil {
			return fmt.Errorf("engine health check: %w", err)
		}
	}

	prov := newProvider(logger)

	// The engine sends SIGINT when it is done with us (we run in our own process
	// group, so a terminal's Ctrl-C does not reach us): stop taking requests and
	// let running ones finish. The engine's Cancel RPC is what aborts them.
	interrupted, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	shutdown := make(chan bool)
	go func() {
		select {
		case <-interrupted.Done():
		case <-engineGone.Done():
			prov.cancelAll()
		}
		close(shutdown)
	}()

	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: shutdown,
		Init: func(s *grpc.Server) error {
			pulumirpc.RegisterResourceProviderServer(s, prov)
			return nil
		},
	})
	if err != nil {
		return err
	}
	// The engine reads the port from our first line of stdout.
	fmt.Printf("%d\n", handle.Port)
	return <-handle.Done
}

// engineLogger sends diagnostics to the engine, attached to a resource.
type engineLogger interface {
	Log(ctx context.Context, sev pulumirpc.LogSeverity, urn, msg string, ephemeral bool)
}

type nopLogger struct{}

func (nopLogger) Log(context.Context, pulumirpc.LogSeverity, string, string, bool) {}

type rpcLogger struct{ client pulumirpc.EngineClient }

func (l *rpcLogger) Log(ctx context.Context, sev pulumirpc.LogSeverity, urn, msg string, ephemeral bool) {
	// Logging must never hold up or fail an operation: bounded, errors dropped.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_, _ = l.client.Log(ctx, &pulumirpc.LogRequest{
		Severity:  sev,
		Message:   strings.ToValidUTF8(msg, "\uFFFD"),
		Urn:       urn,
		Ephemeral: ephemeral,
	})
}
