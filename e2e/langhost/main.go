// Command pulumi-language-python is the e2e tool set's stand-in for Pulumi's Python
// language host. Upstream's host lives in its own Go module
// (github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3), which the Go module
// proxy this project can reach does not serve at any version, so e2e/build-tools builds
// this file instead, against github.com/pulumi/pulumi/sdk/v3 (versions.env).
//
// It implements what `pulumi preview/up/refresh/destroy` need to run a Python program and
// nothing more: Run starts the exec script that ships in the sdk/v3 module
// (python/cmd/pulumi-language-python-exec, installed next to this binary, as upstream does)
// with the interpreter of the program's toolchain (Pulumi.yaml runtime.options: virtualenv,
// toolchain), passes the stack config in PULUMI_CONFIG / PULUMI_CONFIG_SECRET_KEYS, and maps
// the script's exit code 32 ("error already shown") to a bail. RunPlugin runs Python policy
// packs (`pulumi preview --policy-pack DIR`): the pack directory with the interpreter of the
// pack's toolchain (PulumiPolicy.yaml runtime.options). Plugins are not predicted
// (GetRequiredPackages is empty): the engine loads each provider when the program first
// registers one of its resources. Code generation, templates, Pack, Link: not implemented
// (Unimplemented gRPC errors).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"github.com/pulumi/pulumi/sdk/v3/python/toolchain"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

// version is set by build-tools with -ldflags "-X main.version=v…".
var version = "v0.0.0-dev"

// bailExitCode is the exec script's "an error was already shown to the user" exit code.
const bailExitCode = 32

func main() {
	showVersion := flag.Bool("version", false, "print the version and exit")
	tracing := flag.String("tracing", "", "Zipkin-compatible tracing endpoint (passed to the program)")
	// Flags the engine or upstream's host accept; accepted here so a launch never fails on
	// them (--logtostderr and -v are glog's, registered by the sdk's logging package).
	flag.Bool("logflow", false, "flow logging to plugins (ignored)")
	flag.String("root", "", "project root (ignored: taken from each request)")
	virtualenv := flag.String("virtualenv", "", "virtualenv to use when the project does not name one")
	flag.String("typechecker", "", "type checker (ignored)")
	flag.String("toolchain", "", "toolchain (ignored: taken from each request)")
	flag.Parse()

	if *showVersion {
		fmt.Println(version)
		return
	}
	if flag.NArg() < 1 {
		fmt.Fprintln(os.Stderr, "usage: pulumi-language-python [flags] ENGINE_ADDRESS")
		os.Exit(2)
	}

	execPath, err := findExecScript()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	h := &host{engine: flag.Arg(0), tracing: *tracing, exec: execPath, virtualenv: *virtualenv}
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Init: func(s *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(s, h)
			return nil
		},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "could not start the language host server: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("%d\n", handle.Port) // the engine reads the port from the first line
	if err := <-handle.Done; err != nil {
		fmt.Fprintf(os.Stderr, "language host stopped: %v\n", err)
		os.Exit(1)
	}
}

// findExecScript looks for pulumi-language-python-exec next to this binary, then on PATH.
func findExecScript() (string, error) {
	const name = "pulumi-language-python-exec"
	if self, err := os.Executable(); err == nil {
		if resolved, err := filepath.EvalSymlinks(self); err == nil {
			self = resolved
		}
		candidate := filepath.Join(filepath.Dir(self), name)
		if _, err := os.Stat(candidate); err == nil {
			return candidate, nil
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("%s not found next to the language host or on PATH", name)
}

type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer
	engine, tracing, exec, virtualenv string
}

func (h *host) Handshake(_ context.Context, req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	if req.GetEngineAddress() != "" {
		h.engine = req.GetEngineAddress()
	}
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *host) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version}, nil
}

func (h *host) GetRequiredPlugins(context.Context, *pulumirpc.GetRequiredPluginsRequest,
) (*pulumirpc.GetRequiredPluginsResponse, error) {
	return &pulumirpc.GetRequiredPluginsResponse{}, nil
}

func (h *host) GetRequiredPackages(context.Context, *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	return &pulumirpc.GetRequiredPackagesResponse{}, nil
}

// toolchainFor resolves the program's Python toolchain from Pulumi.yaml's runtime options.
func (h *host) toolchainFor(info *pulumirpc.ProgramInfo) (toolchain.Toolchain, error) {
	opts := toolchain.PythonOptions{
		Root:       info.GetRootDirectory(),
		ProgramDir: info.GetProgramDirectory(),
		Virtualenv: h.virtualenv,
		Toolchain:  toolchain.Auto,
	}
	if o := info.GetOptions(); o != nil {
		fields := o.GetFields()
		if v := stringOption(fields, "virtualenv"); v != "" {
			opts.Virtualenv = v
		}
		switch stringOption(fields, "toolchain") {
		case "pip":
			opts.Toolchain = toolchain.Pip
		case "poetry":
			opts.Toolchain = toolchain.Poetry
		case "uv":
			opts.Toolchain = toolchain.Uv
		}
	}
	if opts.Virtualenv != "" && opts.Toolchain == toolchain.Auto {
		opts.Toolchain = toolchain.Pip
	}
	if opts.Virtualenv != "" && !filepath.IsAbs(opts.Virtualenv) && opts.Root != "" {
		opts.Virtualenv = filepath.Join(opts.Root, opts.Virtualenv)
	}
	return toolchain.ResolveToolchain(opts)
}

func stringOption(fields map[string]*structpb.Value, name string) string {
	if v, ok := fields[name]; ok {
		return v.GetStringValue()
	}
	return ""
}

func (h *host) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	info := req.GetInfo()
	if info == nil {
		info = &pulumirpc.ProgramInfo{RootDirectory: req.GetPwd(), ProgramDirectory: req.GetPwd(), EntryPoint: "."}
	}
	tc, err := h.toolchainFor(info)
	if err != nil {
		return nil, err
	}

	program := req.GetProgram()
	if info.GetProgramDirectory() != "" {
		program = filepath.Join(info.GetProgramDirectory(), info.GetEntryPoint())
	}
	args := []string{"-u", h.exec,
		"--monitor", req.GetMonitorAddress(),
		"--engine", h.engine,
		"--project", req.GetProject(),
		"--stack", req.GetStack(),
		"--pwd", req.GetPwd(),
		"--parallel", strconv.Itoa(int(req.GetParallel())),
	}
	if req.GetDryRun() {
		args = append(args, "--dry_run", "true")
	}
	if req.GetOrganization() != "" {
		args = append(args, "--organization", req.GetOrganization())
	}
	if info.GetRootDirectory() != "" {
		args = append(args, "--root_directory", info.GetRootDirectory())
	}
	if h.tracing != "" {
		args = append(args, "--tracing", h.tracing)
	}
	args = append(args, program)
	args = append(args, req.GetArgs()...)

	cmd, err := tc.Command(ctx, args...)
	if err != nil {
		return nil, err
	}
	configMap := req.GetConfig()
	if configMap == nil {
		configMap = map[string]string{} // the exec script expects a JSON object, not null
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
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	cmd.Env = append(cmd.Env, "PULUMI_CONFIG="+string(config), "PULUMI_CONFIG_SECRET_KEYS="+string(secrets))
	cmd.Dir = req.GetPwd()
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr

	if err := cmd.Run(); err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			if exitErr.ExitCode() == bailExitCode {
				return &pulumirpc.RunResponse{Bail: true}, nil
			}
			return &pulumirpc.RunResponse{
				Error: fmt.Sprintf("Program exited with non-zero exit code: %d", exitErr.ExitCode()),
			}, nil
		}
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("Problem executing program (could not run language executor): %v", err)}, nil
	}
	return &pulumirpc.RunResponse{}, nil
}

func (h *host) About(ctx context.Context, req *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	info := req.GetInfo()
	if info == nil {
		info = &pulumirpc.ProgramInfo{}
	}
	tc, err := h.toolchainFor(info)
	if err != nil {
		return nil, err
	}
	about, err := tc.About(ctx)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.AboutResponse{Executable: about.PythonExecutable, Version: about.PythonVersion.String()}, nil
}

func (h *host) GetProgramDependencies(ctx context.Context, req *pulumirpc.GetProgramDependenciesRequest,
) (*pulumirpc.GetProgramDependenciesResponse, error) {
	tc, err := h.toolchainFor(req.GetInfo())
	if err != nil {
		return nil, err
	}
	pkgs, err := tc.ListPackages(ctx, req.GetTransitiveDependencies())
	if err != nil {
		return nil, err
	}
	deps := make([]*pulumirpc.DependencyInfo, 0, len(pkgs))
	for _, p := range pkgs {
		deps = append(deps, &pulumirpc.DependencyInfo{Name: p.Name, Version: p.Version})
	}
	return &pulumirpc.GetProgramDependenciesResponse{Dependencies: deps}, nil
}

// RunPlugin runs a Python plugin program, a policy pack here: `python PACK_DIR ARGS...` (the
// engine's address is the one argument) with the interpreter of the pack's toolchain, in the
// request's working directory and environment. Its output is streamed back (the pack prints its
// port as the first line of stdout), then its exit code.
func (h *host) RunPlugin(req *pulumirpc.RunPluginRequest,
	server grpc.ServerStreamingServer[pulumirpc.RunPluginResponse],
) error {
	info := req.GetInfo()
	if info == nil {
		return errors.New("RunPlugin: the request names no plugin program")
	}
	tc, err := h.toolchainFor(info)
	if err != nil {
		return err
	}
	cmd, err := tc.Command(server.Context(), append([]string{info.GetProgramDirectory()}, req.GetArgs()...)...)
	if err != nil {
		return err
	}
	cmd.Dir = req.GetPwd()
	cmd.Env = req.GetEnv()
	cmd.Stdout, cmd.Stderr = streams(
		func(b []byte) error {
			return server.Send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Stdout{Stdout: b}})
		},
		func(b []byte) error {
			return server.Send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Stderr{Stderr: b}})
		})
	if err := cmd.Run(); err != nil {
		var exitErr *exec.ExitError
		if !errors.As(err, &exitErr) {
			return fmt.Errorf("could not run the plugin program: %w", err)
		}
	}
	return server.Send(&pulumirpc.RunPluginResponse{
		Output: &pulumirpc.RunPluginResponse_Exitcode{Exitcode: int32(cmd.ProcessState.ExitCode())},
	})
}

// InstallDependencies creates the program's virtualenv and installs its requirements
// (`pulumi install`), streaming the tool's output back to the engine.
func (h *host) InstallDependencies(req *pulumirpc.InstallDependenciesRequest,
	server grpc.ServerStreamingServer[pulumirpc.InstallDependenciesResponse],
) error {
	info := req.GetInfo()
	if info == nil {
		info = &pulumirpc.ProgramInfo{RootDirectory: req.GetDirectory(), ProgramDirectory: req.GetDirectory()}
	}
	tc, err := h.toolchainFor(info)
	if err != nil {
		return err
	}
	stdout, stderr := streams(
		func(b []byte) error { return server.Send(&pulumirpc.InstallDependenciesResponse{Stdout: b}) },
		func(b []byte) error { return server.Send(&pulumirpc.InstallDependenciesResponse{Stderr: b}) })
	return tc.InstallDependencies(server.Context(), info.GetRootDirectory(),
		req.GetUseLanguageVersionTools(), true, stdout, stderr)
}

// streams returns a child process's stdout and stderr writers sending to one gRPC stream.
// exec copies the two outputs in two goroutines and a gRPC stream must not be sent to
// concurrently, so the writers share a lock.
func streams(sendStdout, sendStderr func([]byte) error) (io.Writer, io.Writer) {
	var lock sync.Mutex
	return &streamWriter{lock: &lock, send: sendStdout}, &streamWriter{lock: &lock, send: sendStderr}
}

type streamWriter struct {
	lock *sync.Mutex
	send func([]byte) error
}

func (w *streamWriter) Write(p []byte) (int, error) {
	buf := make([]byte, len(p))
	copy(buf, p)
	w.lock.Lock()
	defer w.lock.Unlock()
	if err := w.send(buf); err != nil {
		return 0, err
	}
	return len(p), nil
}
