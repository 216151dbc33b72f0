// Command pulumi-language-python is the e2e tool set's stand-in for Pulumi's Python
// language host. Upstream's host lives in its own Go module
// (github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3), which the Go module
// proxy this project can reach does not serve at any version, so e2e/build-tools builds
// this file instead, against github.com/pulumi/pulumi/sdk/v3 (versions.env).
//
// It behaves as upstream's host does where a user of `pulumi preview/up/refresh/destroy` can
// tell: Run starts the exec script that ships in the sdk/v3 module
// (python/cmd/pulumi-language-python-exec, installed next to this binary, as upstream does)
// with the interpreter of the program's toolchain (Pulumi.yaml runtime.options: virtualenv,
// toolchain), passes the stack config in PULUMI_CONFIG / PULUMI_CONFIG_SECRET_KEYS, and maps
// the script's exit code 32 ("error already shown") to a bail. GetRequiredPackages creates a
// missing virtualenv (sdk/v3's toolchain, as upstream) and lists the resource plugins its
// packages declare (packages.go); Run refuses a virtualenv that is not one with sdk/v3's
// message. The engine's Cancel, SIGINT/SIGTERM, and an engine that no longer answers its health
// check stop the running program (SIGINT, then SIGKILL 5 s later) and the host.
// RunPlugin runs Python policy packs (`pulumi preview --policy-pack DIR`): the pack directory
// with the interpreter of the pack's toolchain (PulumiPolicy.yaml runtime.options). Code
// generation, templates, Pack, Link: not implemented (Unimplemented gRPC errors).
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
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"github.com/pulumi/pulumi/sdk/v3/python/toolchain"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

// version is set by build-tools with -ldflags "-X main.version=v…".
var version = "v0.0.0-dev"

const (
	// bailExitCode is the exec script's "an error was already shown to the user" exit code.
	bailExitCode = 32
	// stopGrace is how long a program has to end after SIGINT before it is killed (upstream's).
	stopGrace = 5 * time.Second
	// engineCheckInterval: how often the engine's health is checked. Upstream checks every 5
	// minutes; a host whose engine was killed then lingers, with its program, for up to that
	// long. A health check to a local engine is cheap, so the stand-in looks every 5 seconds.
	engineCheckInterval = 5 * time.Second
)

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

	execPath, err := findExecScript()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}

	// The host stops on SIGINT (the engine closing its plugins, or Ctrl-C in a terminal that
	// runs it), SIGTERM, or when the engine stops answering its health check: the running
	// program is stopped, then the server, gracefully (a Run in progress returns first). The
	// handler stays installed, so a second SIGINT cannot kill the host before its program ends.
	stopping, stopHost := context.WithCancel(context.Background())
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-signals
		stopHost()
	}()
	engine := flag.Arg(0) // empty when started by hand or for a debugger; Handshake names it
	if engine != "" {
		if err := rpcutil.Healthcheck(stopping, engine, engineCheckInterval, stopHost); err != nil {
			fmt.Fprintf(os.Stderr, "could not start the engine health check: %v\n", err)
			os.Exit(1)
		}
	}
	stopServing := make(chan bool)
	go func() {
		<-stopping.Done()
		close(stopServing)
	}()

	// The engine's Cancel stops the programs only; the engine closes the host afterwards.
	programs, stopPrograms := context.WithCancel(stopping)
	h := &host{engine: engine, tracing: *tracing, exec: execPath, virtualenv: *virtualenv,
		programs: programs, stopPrograms: stopPrograms}
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: stopServing,
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
	// programs is done once running programs are to be stopped (see main).
	programs     context.Context
	stopPrograms context.CancelFunc
}

// Cancel is the engine's request to stop (the update was cancelled, e.g. by Ctrl-C): the
// running program is stopped at once, not when the engine closes the host.
func (h *host) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	h.stopPrograms()
	return &emptypb.Empty{}, nil
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

// GetRequiredPackages creates the program's virtualenv when it is missing, as upstream's host
// does (sdk/v3's toolchain: `python -m venv`, then pip installs the program's requirements),
// and lists the resource plugins its packages declare. GetRequiredPlugins, the older call, is
// left unimplemented, as upstream leaves it: the engine uses this one.
func (h *host) GetRequiredPackages(ctx context.Context, req *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	info := req.GetInfo()
	tc, err := h.toolchainFor(info)
	if err != nil {
		return nil, err
	}
	if err := tc.EnsureVenv(ctx, info.GetProgramDirectory(), false, true, os.Stdout, os.Stderr); err != nil {
		return nil, err
	}
	packages, err := requiredPackages(ctx, tc)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.GetRequiredPackagesResponse{Packages: packages}, nil
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
	// A virtualenv that is not one: sdk/v3's message, which names the commands that make it.
	if err := tc.ValidateVenv(ctx); err != nil {
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

	// The program runs until it ends, the engine stops waiting for it, or the host stops.
	runCtx, endRun := context.WithCancel(h.programs)
	defer endRun()
	defer context.AfterFunc(ctx, endRun)()
	cmd, err := tc.Command(runCtx, args...)
	if err != nil {
		return nil, err
	}
	stopGently(cmd)
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
		if runCtx.Err() != nil {
			return &pulumirpc.RunResponse{
				Error: "the program was stopped: the engine cancelled the update, or no longer answers",
			}, nil
		}
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			if exitErr.ExitCode() == bailExitCode {
				return &pulumirpc.RunResponse{Bail: true}, nil
			}
			return &pulumirpc.RunResponse{
				Error: fmt.Sprintf("program exited with non-zero exit code: %d", exitErr.ExitCode()),
			}, nil
		}
		return &pulumirpc.RunResponse{
			Error: fmt.Sprintf("problem executing program (could not run language executor): %v", err),
		}, nil
	}
	return &pulumirpc.RunResponse{}, nil
}

// stopGently makes a command started with a context stop as upstream's host stops a program
// when its context ends: SIGINT first (Python raises KeyboardInterrupt), SIGKILL stopGrace later
// if it is still running (a program that ignores SIGINT).
func stopGently(cmd *exec.Cmd) {
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = stopGrace
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
	runCtx, endRun := context.WithCancel(h.programs)
	defer endRun()
	defer context.AfterFunc(server.Context(), endRun)()
	cmd, err := tc.Command(runCtx, append([]string{info.GetProgramDirectory()}, req.GetArgs()...)...)
	if err != nil {
		return err
	}
	stopGently(cmd)
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
