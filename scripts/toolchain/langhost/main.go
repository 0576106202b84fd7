// Command pulumi-language-nodejs is a small Node.js language host for the
// Pulumi engine. The upstream host lives in its own untagged Go module that the
// Go module proxy does not serve, so setup builds this one instead. It speaks
// the same LanguageRuntime gRPC protocol and runs programs and policy packs
// through the entry points shipped in the installed @pulumi/pulumi package
// (cmd/run, cmd/run-policy-pack, cmd/run-plugin), exactly as upstream does.
//
// Supported: Handshake, GetPluginInfo, GetRequiredPlugins, Run, RunPlugin,
// InstallDependencies (a no-op: run `npm ci` yourself). Everything else
// answers Unimplemented, which the engine treats as "not supported".
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.0.0-dev"

// exitAfterUserMessage is the exit code @pulumi/pulumi uses once it has already
// reported a user-actionable error; the engine then should not add its own.
const exitAfterUserMessage = 32

type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer

	mu     sync.Mutex
	engine string // engine gRPC address, for program logging
}

func main() {
	// The engine passes the engine address as the last positional argument;
	// flags such as -tracing or -root are accepted and ignored.
	h := &host{}
	for _, a := range os.Args[1:] {
		if a == "-version" || a == "--version" {
			fmt.Println(version) // lets setup report the version without serving
			return
		}
		if !strings.HasPrefix(a, "-") {
			h.engine = a
		}
	}
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Init: func(s *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(s, h)
			return nil
		},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-language-nodejs: %v\n", err)
		os.Exit(1)
	}
	// The engine reads the port from our first line of stdout.
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-language-nodejs: %v\n", err)
		os.Exit(1)
	}
}

func (h *host) Handshake(_ context.Context, req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if req.GetEngineAddress() != "" {
		h.engine = req.GetEngineAddress()
	}
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *host) engineAddr() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.engine
}

func (h *host) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version}, nil
}

// GetRequiredPlugins reports every installed npm package whose package.json
// says {"pulumi": {"resource": true}}, so the engine can check its providers.
func (h *host) GetRequiredPlugins(_ context.Context, req *pulumirpc.GetRequiredPluginsRequest,
) (*pulumirpc.GetRequiredPluginsResponse, error) {
	dir := req.GetInfo().GetProgramDirectory()
	if dir == "" {
		dir = req.GetProgram()
	}
	seen := map[string]bool{}
	var deps []*pulumirpc.PluginDependency
	for _, nm := range nodeModulesDirs(dir, req.GetInfo().GetRootDirectory()) {
		pkgs, _ := filepath.Glob(filepath.Join(nm, "*", "package.json"))
		scoped, _ := filepath.Glob(filepath.Join(nm, "@*", "*", "package.json"))
		for _, p := range append(pkgs, scoped...) {
			d := pluginFromPackageJSON(p)
			if d == nil || seen[d.Name] {
				continue
			}
			seen[d.Name] = true
			deps = append(deps, d)
		}
	}
	return &pulumirpc.GetRequiredPluginsResponse{Plugins: deps}, nil
}

// nodeModulesDirs lists node_modules directories from dir up to (and including)
// root, nearest first; without a root it walks to the filesystem root.
func nodeModulesDirs(dir, root string) []string {
	var out []string
	dir, _ = filepath.Abs(dir)
	if root != "" {
		root, _ = filepath.Abs(root)
	}
	for {
		nm := filepath.Join(dir, "node_modules")
		if st, err := os.Stat(nm); err == nil && st.IsDir() {
			out = append(out, nm)
		}
		parent := filepath.Dir(dir)
		if dir == root || parent == dir {
			return out
		}
		dir = parent
	}
}

func pluginFromPackageJSON(path string) *pulumirpc.PluginDependency {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var pkg struct {
		Name    string `json:"name"`
		Version string `json:"version"`
		Pulumi  struct {
			Resource bool   `json:"resource"`
			Name     string `json:"name"`
			Version  string `json:"version"`
			Server   string `json:"server"`
		} `json:"pulumi"`
	}
	if json.Unmarshal(b, &pkg) != nil || !pkg.Pulumi.Resource {
		return nil
	}
	name := pkg.Pulumi.Name
	if name == "" {
		name = strings.TrimPrefix(strings.TrimPrefix(pkg.Name, "@pulumi/"), "@")
	}
	ver := pkg.Pulumi.Version
	if ver == "" {
		ver = pkg.Version
	}
	if ver == "" || name == "" {
		return nil
	}
	if !strings.HasPrefix(ver, "v") {
		ver = "v" + ver
	}
	return &pulumirpc.PluginDependency{Name: name, Kind: "resource", Version: ver, Server: pkg.Pulumi.Server}
}

// resolveSDKEntry finds node_modules/@pulumi/pulumi/<entry> from dir upwards,
// like Node's own module resolution does.
func resolveSDKEntry(dir, entry string) (string, error) {
	for _, nm := range nodeModulesDirs(dir, "") {
		p := filepath.Join(nm, "@pulumi", "pulumi", entry)
		if _, err := os.Stat(filepath.Join(p, "index.js")); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("could not find @pulumi/pulumi/%s above %s; "+
		"it looks like the Pulumi SDK has not been installed (run npm ci)", entry, dir)
}

// options reads the runtime options from Pulumi.yaml (runtime.options).
type options struct {
	typescript bool
	tsconfig   string
	nodeargs   []string
}

func readOptions(s *structpb.Struct) options {
	o := options{typescript: true}
	if s == nil {
		return o
	}
	m := s.AsMap()
	if v, ok := m["typescript"].(bool); ok {
		o.typescript = v
	}
	if v, ok := m["tsconfig"].(string); ok {
		o.tsconfig = v
	}
	if v, ok := m["nodeargs"].(string); ok {
		o.nodeargs = strings.Fields(v)
	}
	return o
}

func (o options) env() []string {
	env := []string{"PULUMI_NODEJS_TYPESCRIPT=" + strconv.FormatBool(o.typescript)}
	if o.tsconfig != "" {
		env = append(env, "PULUMI_NODEJS_TSCONFIG_PATH="+o.tsconfig)
	}
	return env
}

// Run executes the program with @pulumi/pulumi's cmd/run, which connects back
// to the engine's resource monitor.
func (h *host) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	info := req.GetInfo()
	opts := readOptions(info.GetOptions())
	pwd := req.GetPwd()
	if pwd == "" {
		pwd = info.GetProgramDirectory()
	}
	runPath, err := resolveSDKEntry(pwd, "cmd/run")
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	args := append([]string{}, opts.nodeargs...)
	args = append(args, runPath)
	flag := func(k, v string) {
		if v != "" {
			args = append(args, "--"+k, v)
		}
	}
	flag("monitor", req.GetMonitorAddress())
	flag("engine", h.engineAddr())
	flag("organization", req.GetOrganization())
	flag("project", req.GetProject())
	flag("root-directory", info.GetRootDirectory())
	flag("stack", req.GetStack())
	flag("pwd", pwd)
	if req.GetDryRun() {
		args = append(args, "--dry-run")
	}
	if req.GetParallel() > 0 {
		flag("parallel", strconv.Itoa(int(req.GetParallel())))
	}
	program := req.GetProgram()
	if program == "" {
		program = "."
	}
	args = append(args, program)
	args = append(args, req.GetArgs()...)

	configMap := req.GetConfig()
	if configMap == nil {
		configMap = map[string]string{} // the SDK expects an object, never null
	}
	config, err := json.Marshal(configMap)
	if err != nil {
		return nil, err
	}
	secretKeys := req.GetConfigSecretKeys()
	if secretKeys == nil {
		secretKeys = []string{}
	}
	secrets, err := json.Marshal(secretKeys)
	if err != nil {
		return nil, err
	}

	env := append(os.Environ(), opts.env()...)
	env = append(env, "PULUMI_CONFIG_SECRET_KEYS="+string(secrets))
	if len(config) <= maxEnvConfig {
		env = append(env, "PULUMI_CONFIG="+string(config))
	} else {
		// One environment string may hold at most 128 KiB (Linux's MAX_ARG_STRLEN): a
		// larger config (a stack of a thousand nodes) travels in a private file that a
		// preloaded script moves into the program's own environment before the SDK reads it.
		cleanup, preload, err := configFile(config, &env)
		if err != nil {
			return nil, err
		}
		defer cleanup()
		args = append([]string{"--require", preload}, args...)
	}
	cmd := exec.CommandContext(ctx, "node", args...)
	cmd.Dir = pwd
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	cmd.Env = env
	err = cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return &pulumirpc.RunResponse{}, nil
	case errors.As(err, &exit) && exit.ExitCode() == exitAfterUserMessage:
		return &pulumirpc.RunResponse{Bail: true}, nil
	case errors.As(err, &exit):
		return &pulumirpc.RunResponse{
			Error: fmt.Sprintf("Program exited with non-zero exit code: %d", exit.ExitCode()),
		}, nil
	default:
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("could not run node: %v", err)}, nil
	}
}

// RunPlugin starts a Node.js plugin: a policy pack (kind "analyzer") via
// cmd/run-policy-pack, or a provider written in Node.js via cmd/run-plugin.
// Output is streamed back; the last message is the exit code.
func (h *host) RunPlugin(req *pulumirpc.RunPluginRequest,
	server grpc.ServerStreamingServer[pulumirpc.RunPluginResponse],
) error {
	info := req.GetInfo()
	dir := info.GetProgramDirectory()
	opts := readOptions(info.GetOptions())
	entry := "cmd/run-plugin"
	if req.GetKind() == "analyzer" {
		entry = "cmd/run-policy-pack"
	}
	script, err := resolveSDKEntry(dir, entry)
	if err != nil {
		return err
	}
	args := append([]string{}, opts.nodeargs...)
	args = append(args, script)
	args = append(args, req.GetArgs()...)
	args = append(args, dir)

	cmd := exec.CommandContext(server.Context(), "node", args...)
	cmd.Dir = dir
	cmd.Env = append(append([]string{}, req.GetEnv()...), opts.env()...)
	if len(req.GetEnv()) == 0 {
		cmd.Env = append(os.Environ(), opts.env()...)
	}
	var sendMu sync.Mutex
	send := func(r *pulumirpc.RunPluginResponse) error {
		sendMu.Lock()
		defer sendMu.Unlock()
		return server.Send(r)
	}
	cmd.Stdout = streamWriter(func(b []byte) error {
		return send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Stdout{Stdout: b}})
	})
	cmd.Stderr = streamWriter(func(b []byte) error {
		return send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Stderr{Stderr: b}})
	})
	code := int32(0)
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			return fmt.Errorf("could not run node: %w", err)
		}
		code = int32(exit.ExitCode())
	}
	return send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Exitcode{Exitcode: code}})
}

// streamWriter adapts a send function to io.Writer; exec copies output to it
// from its own goroutine, so each chunk is copied before sending.
type streamWriter func([]byte) error

func (w streamWriter) Write(p []byte) (int, error) {
	if err := w(append([]byte(nil), p...)); err != nil {
		return 0, err
	}
	return len(p), nil
}

var _ io.Writer = streamWriter(nil)

// InstallDependencies is a no-op: dependencies come from `npm ci` in the repo.
func (h *host) InstallDependencies(_ *pulumirpc.InstallDependenciesRequest,
	server grpc.ServerStreamingServer[pulumirpc.InstallDependenciesResponse],
) error {
	msg := "pulumi-language-nodejs: dependencies are not installed by the engine; run `npm ci`\n"
	return server.Send(&pulumirpc.InstallDependenciesResponse{Stdout: []byte(msg)})
}

// maxEnvConfig is the largest config passed in PULUMI_CONFIG itself (below Linux's
// 128 KiB limit for one environment string).
const maxEnvConfig = 96 * 1024

// configPreload runs before @pulumi/pulumi loads: it reads the config file into
// PULUMI_CONFIG (inside the process no length limit applies) and removes the file.
const configPreload = `"use strict";
const fs = require("fs");
const file = process.env.DEBVISOR_PULUMI_CONFIG_FILE;
if (file) {
  process.env.PULUMI_CONFIG = fs.readFileSync(file, "utf8");
  fs.rmSync(file, { force: true });
  delete process.env.DEBVISOR_PULUMI_CONFIG_FILE;
}
`

// configFile writes the config and the preload script into a private directory and
// points env at the config; cleanup removes the directory.
func configFile(config []byte, env *[]string) (func(), string, error) {
	dir, err := os.MkdirTemp("", "pulumi-nodejs-config-")
	if err != nil {
		return nil, "", err
	}
	cleanup := func() { os.RemoveAll(dir) }
	file := filepath.Join(dir, "config.json")
	preload := filepath.Join(dir, "preload.cjs")
	if err := os.WriteFile(file, config, 0o600); err != nil {
		cleanup()
		return nil, "", err
	}
	if err := os.WriteFile(preload, []byte(configPreload), 0o600); err != nil {
		cleanup()
		return nil, "", err
	}
	*env = append(*env, "DEBVISOR_PULUMI_CONFIG_FILE="+file)
	return cleanup, preload, nil
}
