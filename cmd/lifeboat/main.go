package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"runtime/trace"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "0.1.0-dev"

func main() {
	if os.Getenv("GOGC") == "" {
		// Pack and chunk buffers are reused; a lower GC target keeps the
		// garbage from small allocations from doubling the resident size.
		debug.SetGCPercent(50)
	}
	if p := os.Getenv("LIFEBOAT_TRACE"); p != "" {
		// Debugging aid: an execution trace of the run (go tool trace).
		if f, err := os.Create(p); err == nil && trace.Start(f) == nil {
			code := run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
			trace.Stop()
			f.Close()
			os.Exit(code)
		}
	}
	if p := os.Getenv("LIFEBOAT_CPUPROFILE"); p != "" {
		// Debugging aid for benchmarks: write a CPU profile of the run.
		if f, err := os.Create(p); err == nil {
			if err := pprof.StartCPUProfile(f); err == nil {
				code := run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
				pprof.StopCPUProfile()
				f.Close()
				os.Exit(code)
			}
		}
	}
	code := run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	if p := os.Getenv("LIFEBOAT_MEMPROFILE"); p != "" {
		// Debugging aid: allocation profile of the whole run.
		if f, err := os.Create(p); err == nil {
			_ = pprof.Lookup("allocs").WriteTo(f, 0)
			f.Close()
		}
	}
	os.Exit(code)
}

// interruptSignals interrupt a command: SIGINT (Ctrl-C), SIGTERM, and
// SIGHUP (the terminal or SSH session closed). Each cancels the command's
// context, so that the command cleans up on its way out (a drill removes
// its scratch directory, the daemon its daemon.json) instead of dying where
// it stands.
var interruptSignals = []os.Signal{os.Interrupt, syscall.SIGTERM, syscall.SIGHUP}

// interruptedError is the cause of the root context's cancellation when a
// signal interrupted the command.
type interruptedError struct{ sig os.Signal }

func (e *interruptedError) Error() string { return "interrupted by " + e.sig.String() }

// withInterrupts returns a context that a signal of interruptSignals
// cancels, with an *interruptedError as its cause, and the function that
// stops listening for the signals.
func withInterrupts(parent context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(parent)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, interruptSignals...)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-sigs:
			cancel(&interruptedError{sig: s})
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(done)
		cancel(nil)
	}
}

// interrupted reports whether a signal cancelled ctx (see withInterrupts).
func interrupted(ctx context.Context) bool {
	var ie *interruptedError
	return errors.As(context.Cause(ctx), &ie)
}

// run executes the CLI with args and returns the exit code. Tests call it
// in-process.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := withInterrupts(context.Background())
	defer stop()
	app := newApp(stdin, stdout, stderr)
	root := app.rootCommand()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	intr := interrupted(ctx)
	if err != nil {
		var silent *silentError
		switch {
		case errors.As(err, &silent):
		case intr && errors.Is(err, context.Canceled):
			// "context canceled" says nothing to the user; the cause does.
			fmt.Fprintf(stderr, "lifeboat: %v\n", context.Cause(ctx))
		default:
			fmt.Fprintf(stderr, "lifeboat: %v\n", err)
		}
	}
	code := exitCode(err, intr)
	if err != nil && code == ExitOK {
		code = ExitError
	}
	return code
}

// silentError is an error already reported to the user.
type silentError struct{ code int }

func (e *silentError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "lifeboat",
		Short: "Encrypted, deduplicating backups replicated across regions, with restore drills",
		Long: `Lifeboat backs up directories into a repository that is chunked, deduplicated,
compressed (zstd) and encrypted (age), and stored in one or more regions
(local directories or S3-compatible services). Restores verify every byte.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if isGroup(cmd) {
				return nil // it only prints its help
			}
			return a.loadConfig(cmd)
		},
	}
	asGroup(root)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return withCode(ExitUsage, err) })
	f := root.PersistentFlags()
	f.StringVar(&a.flags.config, "config", "", "configuration file (env LIFEBOAT_CONFIG, default ./lifeboat.yaml)")
	f.StringVarP(&a.flags.repo, "repo", "r", "", "use one local region at `PATH` instead of a configuration file")
	f.StringVar(&a.flags.identity, "identity", "", "age identity or SSH private key `FILE` (env LIFEBOAT_IDENTITY)")
	f.StringVar(&a.flags.cacheDir, "cache-dir", "", "local metadata cache `DIR` (env LIFEBOAT_CACHE_DIR)")
	f.BoolVar(&a.flags.noCache, "no-cache", false, "do not use a local cache")
	f.BoolVar(&a.flags.json, "json", false, "machine-readable JSON output")
	f.BoolVarP(&a.flags.quiet, "quiet", "q", false, "print only errors and the final result")
	root.AddCommand(
		a.initCommand(),
		a.backupCommand(),
		a.restoreCommand(),
		a.snapshotsCommand(),
		a.lsCommand(),
		a.checkCommand(),
		a.keyCommand(),
		a.versionCommand(),
		a.quickstartCommand(),
		a.syncCommand(),
		a.regionsCommand(),
		a.drillCommand(),
		a.daemonCommand(), a.statusCommand(),
		a.migrateCommand(),
		a.forgetCommand(),
		a.lockCommand(),
		a.pruneCommand(),
		a.historyCommand(),
	)
	usageArgs(root)
	return root
}

// groupAnnotation marks a command that only groups subcommands.
const groupAnnotation = "lifeboat:group"

// asGroup makes cmd a group of subcommands that prints its help when run
// alone and rejects an unknown subcommand as a usage error (exit 2). Left
// to cobra, a group prints its help for any argument (exit 0), and the
// root reports an unknown command with exit code 1.
func asGroup(cmd *cobra.Command) {
	if cmd.Annotations == nil {
		cmd.Annotations = map[string]string{}
	}
	cmd.Annotations[groupAnnotation] = "true"
	cmd.Args = unknownCommand
	cmd.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
}

func isGroup(cmd *cobra.Command) bool { return cmd.Annotations[groupAnnotation] != "" }

// unknownCommand rejects any argument of a group: it is not one of the
// group's subcommands.
func unknownCommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2 // cobra's default
	}
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += fmt.Sprintf(" (did you mean %s?)", strings.Join(s, " or "))
	}
	return usageErr("%s; run '%s --help' for the commands", msg, cmd.CommandPath())
}

// usageArgs makes the argument errors of cmd and its subcommands usage
// errors (exit 2): cobra's argument checks (cobra.NoArgs, ExactArgs, ...)
// return plain errors.
func usageArgs(cmd *cobra.Command) {
	if check := cmd.Args; check != nil {
		cmd.Args = func(c *cobra.Command, args []string) error {
			return withCode(ExitUsage, check(c, args))
		}
	}
	for _, sub := range cmd.Commands() {
		usageArgs(sub)
	}
}

func (a *app) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:               "version",
		Short:             "Print the version",
		Args:              cobra.NoArgs,
		PersistentPreRunE: func(*cobra.Command, []string) error { return nil },
		RunE: func(cmd *cobra.Command, _ []string) error {
			if a.flags.json {
				return a.printJSON(map[string]any{"version": version, "format_version": formatVersion()})
			}
			fmt.Fprintf(a.stdout, "lifeboat %s (repository format %d)\n", version, formatVersion())
			return nil
		},
	}
}
