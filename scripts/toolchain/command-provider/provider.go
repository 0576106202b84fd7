package main

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

const typeRemoteCommand = "command:remote:Command"

//go:embed schema.json
var schemaJSON string

var errCancelled = errors.New("cancelled by the engine")

type provider struct {
	pulumirpc.UnimplementedResourceProviderServer

	log engineLogger
	// cancelled ends when the engine calls Cancel: every running command is
	// aborted and later operations fail at once.
	cancelled context.Context
	cancel    context.CancelCauseFunc
}

func newProvider(log engineLogger) *provider {
	ctx, cancel := context.WithCancelCause(context.Background())
	return &provider{log: log, cancelled: ctx, cancel: cancel}
}

func (p *provider) cancelAll() { p.cancel(errCancelled) }

// opContext bounds one operation by the request, Cancel and the engine's
// timeout for it (customTimeouts), if any.
func (p *provider) opContext(ctx context.Context, timeout float64) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(ctx)
	stop := context.AfterFunc(p.cancelled, func() { cancel(context.Cause(p.cancelled)) })
	cancelTimeout := func() {}
	if timeout > 0 {
		d := time.Duration(timeout * float64(time.Second))
		ctx, cancelTimeout = context.WithTimeoutCause(ctx, d, fmt.Errorf("timed out after %s (customTimeouts)", d))
	}
	return ctx, func() {
		cancelTimeout()
		stop()
		cancel(nil)
	}
}

func resourceType(typ, urn string) string {
	if typ != "" {
		return typ
	}
	if u, err := resource.ParseURN(urn); err == nil {
		return string(u.Type())
	}
	return ""
}

func checkType(typ, urn string) error {
	if t := resourceType(typ, urn); t != typeRemoteCommand {
		return status.Errorf(codes.InvalidArgument,
			"resource type %q is not supported by DebVisor's pulumi-resource-command, which implements only %s",
			t, typeRemoteCommand)
	}
	return nil
}

func unmarshal(s *structpb.Struct, label string) (resource.PropertyMap, error) {
	if s == nil {
		return resource.PropertyMap{}, nil
	}
	return plugin.UnmarshalProperties(s, plugin.MarshalOptions{
		Label: label, KeepUnknowns: true, KeepSecrets: true, KeepResources: true,
	})
}

func marshal(m resource.PropertyMap, label string) (*structpb.Struct, error) {
	return plugin.MarshalProperties(m, plugin.MarshalOptions{
		Label: label, KeepUnknowns: true, KeepSecrets: true, KeepResources: true,
	})
}

// --- plugin and configuration calls -----------------------------------------

func (p *provider) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: implementsVersion}, nil
}

func (p *provider) GetSchema(context.Context, *pulumirpc.GetSchemaRequest) (*pulumirpc.GetSchemaResponse, error) {
	return &pulumirpc.GetSchemaResponse{Schema: schemaJSON}, nil
}

// We do not accept secrets: the engine unwraps them before calling us and
// marks as secret every output whose input was secret. Nothing we return can
// then carry a secret in plaintext that the program had marked.
func (p *provider) Handshake(context.Context, *pulumirpc.ProviderHandshakeRequest,
) (*pulumirpc.ProviderHandshakeResponse, error) {
	return &pulumirpc.ProviderHandshakeResponse{}, nil
}

func (p *provider) Configure(context.Context, *pulumirpc.ConfigureRequest) (*pulumirpc.ConfigureResponse, error) {
	return &pulumirpc.ConfigureResponse{SupportsPreview: true}, nil
}

// The provider itself has no configuration.
func (p *provider) CheckConfig(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	return &pulumirpc.CheckResponse{Inputs: req.GetNews()}, nil
}

func (p *provider) DiffConfig(context.Context, *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE}, nil
}

func (p *provider) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	p.cancelAll()
	return &emptypb.Empty{}, nil
}

// --- resource calls ----------------------------------------------------------

func (p *provider) Check(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	if err := checkType(req.GetType(), req.GetUrn()); err != nil {
		return nil, err
	}
	news, err := unmarshal(req.GetNews(), "check.news")
	if err != nil {
		return nil, err
	}
	checked, fs := checkInputs(news)
	inputs, err := marshal(checked, "check.inputs")
	if err != nil {
		return nil, err
	}
	resp := &pulumirpc.CheckResponse{Inputs: inputs}
	// The field is named in the reason rather than in Property: the engine
	// would print the property's whole value next to it.
	for _, f := range fs {
		resp.Failures = append(resp.Failures, &pulumirpc.CheckFailure{Reason: f.String()})
	}
	return resp, nil
}

func (p *provider) Diff(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	if err := checkType(req.GetType(), req.GetUrn()); err != nil {
		return nil, err
	}
	var olds resource.PropertyMap
	var err error
	if len(req.GetOldInputs().GetFields()) > 0 {
		olds, err = unmarshal(req.GetOldInputs(), "diff.oldInputs")
	} else {
		olds, err = unmarshal(req.GetOlds(), "diff.olds")
	}
	if err != nil {
		return nil, err
	}
	news, err := unmarshal(req.GetNews(), "diff.news")
	if err != nil {
		return nil, err
	}
	return diffInputs(olds, news, req.GetIgnoreChanges())
}

func (p *provider) Create(ctx context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	if err := checkType(req.GetType(), req.GetUrn()); err != nil {
		return nil, err
	}
	props, err := unmarshal(req.GetProperties(), "create.properties")
	if err != nil {
		return nil, err
	}
	outs := props.Copy()
	if req.GetPreview() {
		setOutput(outs, willRun(props, propCreate), nil)
		s, err := marshal(outs, "create.outputs")
		return &pulumirpc.CreateResponse{Properties: s}, err
	}

	spec, err := specFromProps(props)
	if err != nil {
		return nil, err
	}
	name := req.GetName()
	if name == "" {
		if u, err := resource.ParseURN(req.GetUrn()); err == nil {
			name = u.Name()
		}
	}
	id, err := resource.NewUniqueHex(name, 8, 0)
	if err != nil {
		return nil, err
	}
	res := runResult{}
	if spec.Create != nil {
		// A failed create records nothing: the next `up` runs it again.
		if res, err = p.run(ctx, "create", req.GetUrn(), spec, *spec.Create, nil, req.GetTimeout()); err != nil {
			return nil, err
		}
	}
	outs[propStdout] = resource.NewProperty(res.Stdout)
	outs[propStderr] = resource.NewProperty(res.Stderr)
	s, err := marshal(outs, "create.outputs")
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CreateResponse{Id: id, Properties: s}, nil
}

func (p *provider) Update(ctx context.Context, req *pulumirpc.UpdateRequest) (*pulumirpc.UpdateResponse, error) {
	if err := checkType(req.GetType(), req.GetUrn()); err != nil {
		return nil, err
	}
	olds, err := unmarshal(req.GetOlds(), "update.olds")
	if err != nil {
		return nil, err
	}
	news, err := unmarshal(req.GetNews(), "update.news")
	if err != nil {
		return nil, err
	}
	outs := news.Copy()
	runs := willRun(news, propUpdate) || willRun(news, propCreate)
	if req.GetPreview() || !runs {
		setOutput(outs, runs, olds)
		s, err := marshal(outs, "update.outputs")
		return &pulumirpc.UpdateResponse{Properties: s}, err
	}

	spec, err := specFromProps(news)
	if err != nil {
		return nil, err
	}
	cmd := spec.Create
	if spec.Update != nil {
		cmd = spec.Update
	}
	res, err := p.run(ctx, "update", req.GetUrn(), spec, *cmd, olds, req.GetTimeout())
	if err != nil {
		return nil, err
	}
	outs[propStdout] = resource.NewProperty(res.Stdout)
	outs[propStderr] = resource.NewProperty(res.Stderr)
	s, err := marshal(outs, "update.outputs")
	if err != nil {
		return nil, err
	}
	return &pulumirpc.UpdateResponse{Properties: s}, nil
}

func (p *provider) Delete(ctx context.Context, req *pulumirpc.DeleteRequest) (*emptypb.Empty, error) {
	if err := checkType(req.GetType(), req.GetUrn()); err != nil {
		return nil, err
	}
	props, err := unmarshal(req.GetProperties(), "delete.properties")
	if err != nil {
		return nil, err
	}
	if !willRun(props, propDelete) {
		return &emptypb.Empty{}, nil
	}
	spec, err := specFromProps(props)
	if err != nil {
		return nil, err
	}
	if _, err := p.run(ctx, "delete", req.GetUrn(), spec, *spec.Delete, props, req.GetTimeout()); err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, nil
}

// Read returns the state as given: a command's effect cannot be read back.
func (p *provider) Read(_ context.Context, req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	if err := checkType(req.GetType(), req.GetUrn()); err != nil {
		return nil, err
	}
	return &pulumirpc.ReadResponse{Id: req.GetId(), Properties: req.GetProperties(), Inputs: req.GetInputs()}, nil
}

// willRun reports whether props hold a command under key (known or not).
func willRun(props resource.PropertyMap, key string) bool {
	v, ok := props[resource.PropertyKey(key)]
	return ok && !isAbsent(v)
}

// setOutput fills stdout/stderr when no command runs now: unknown if one will
// run, else the previous values (or empty).
func setOutput(outs resource.PropertyMap, runs bool, olds resource.PropertyMap) {
	for _, k := range []resource.PropertyKey{propStdout, propStderr} {
		switch {
		case runs:
			outs[k] = resource.MakeComputed(resource.NewProperty(""))
		case olds != nil && olds[k].IsString():
			outs[k] = olds[k]
		default:
			outs[k] = resource.NewProperty("")
		}
	}
}

// run runs cmd for one operation, streaming its output lines to the engine as
// ephemeral status messages of the resource (as far as `logging` allows).
func (p *provider) run(ctx context.Context, op, urn string, spec *commandSpec, cmd string,
	prev resource.PropertyMap, timeout float64,
) (runResult, error) {
	ctx, done := p.opContext(ctx, timeout)
	defer done()

	lines := make(chan string, 512)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for l := range lines {
			p.log.Log(ctx, pulumirpc.LogSeverity_INFO, urn, l, true)
		}
	}()
	// Never hold up the command for the display: drop lines when it lags.
	progress := func(l string) {
		select {
		case lines <- l:
		default:
		}
	}
	if spec.Logging == logNone {
		progress = nil
	}

	optional := map[string]string{}
	if spec.AddPreviousOutputInEnv && prev != nil {
		for k, env := range map[resource.PropertyKey]string{propStdout: envPrevStdout, propStderr: envPrevStderr} {
			if v := unwrap(prev[k]); v.IsString() && v.StringValue() != "" {
				optional[env] = v.StringValue()
			}
		}
	}
	addr := net.JoinHostPort(spec.Conn.Host, strconv.Itoa(spec.Conn.Port))
	p.log.Log(ctx, pulumirpc.LogSeverity_INFO, urn, fmt.Sprintf("running %s on %s", op, addr), true)
	res, err := runRemote(ctx, runRequest{
		Op:          op,
		Conn:        spec.Conn,
		Command:     cmd,
		Stdin:       spec.Stdin,
		Env:         spec.Environment,
		OptionalEnv: optional,
		Logging:     spec.Logging,
		Progress:    progress,
		Warn:        func(m string) { p.log.Log(ctx, pulumirpc.LogSeverity_WARNING, urn, m, false) },
		Status:      func(m string) { p.log.Log(ctx, pulumirpc.LogSeverity_INFO, urn, m, true) },
	})
	close(lines)
	wg.Wait()
	return res, err
}
