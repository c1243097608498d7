// Package cli is the spool command line: flags and the grammars of their values
// (sizes like 4M or 1G, KEY=VALUE tags, D.HH:MM:SS lifetimes), help, output and exit
// statuses, over the client, client/access and client/transfer libraries. cmd/spool
// only wires it to the process.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"

	"github.com/spf13/pflag"
	"golang.org/x/term"

	"spool/client"
	"spool/internal/redact"
)

// Exit statuses, listed in the top-level help.
const (
	exitOK         = 0
	exitFailure    = 1
	exitUsage      = 2
	exitCanceled   = 130 // what a shell reports for a process ended by Ctrl-C (SIGINT)
	exitTerminated = 143 // ... and by SIGTERM
)

// Signaled is the cause cmd/spool cancels Run's context with when a signal
// arrives, so the exit status can say which signal it was.
type Signaled struct{ Signal os.Signal }

func (s Signaled) Error() string { return "received " + s.Signal.String() }

// app is one invocation of the CLI: its streams and the global settings.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	// serverURL is the --server-url given before the command, if any.
	serverURL string
	// quiet and logLevelName are --quiet and --log-level as given (before the
	// command or after it); level is what they mean.
	quiet        bool
	logLevelName string
	level        logLevel
	// transferring is the progress of the running write or read, which lines to
	// stderr go through so they do not garble its status line.
	transferring *progress
	// answersFromStdin lets a test answer confirmation prompts through a stdin that
	// is not a terminal.
	answersFromStdin bool
	// talkedTo is the server the API client was built for and whether it sends the
	// login's token, to explain a refusal.
	talkedTo struct {
		serverURL string
		withToken bool
	}
}

// command is one `spool buffer` subcommand, or a top-level one.
//
// The dispatch is hand-written over pflag rather than moved to cobra (which would
// give completion scripts for free): the CLI's usage errors, help texts and exit
// statuses are pinned by tests word for word, and reproducing them inside cobra's
// own help, error and flag-parsing conventions would cost more than generating the
// three completion scripts from this table (completion.go), which stays the single
// list of commands and flags.
type command struct {
	name    string
	args    string // the usage line after the command name
	summary string // one line for the command list
	about   string // the help text's description
	example string
	// topLevel commands (login, logout, version, completion) are not under `spool
	// buffer` and take no --server-url of their own.
	topLevel bool
	// flags defines the command's flags on fs and returns the function that runs it
	// once they are parsed.
	flags func(a *app, fs *pflag.FlagSet) func(ctx context.Context, args []string) error
}

func commands() []command {
	return []command{
		createCommand(), showCommand(), setCommand(), listCommand(), accessCommand(),
		writeCommand(), readCommand(), genCommand(), storageAccountCommand(), copyCommand(),
		lifecycleCommand(client.Delete), lifecycleCommand(client.Restore), lifecycleCommand(client.Purge),
		auditCommand(),
	}
}

// topLevelCommands are the commands outside `spool buffer`; "login status" is the
// one with a space.
func topLevelCommands() []command {
	return []command{loginCommand(), loginStatusCommand(), logoutCommand(), versionCommand(), completionCommand()}
}

// usageError is a mistake in how spool was called: exit status 2 and a pointer to
// the help.
type usageError struct {
	cmd string // the command after `spool`, as in "buffer create"; empty for the top level
	err error
}

func (e *usageError) Error() string { return e.err.Error() }

func usagef(cmd, format string, args ...any) error {
	return &usageError{cmd: cmd, err: fmt.Errorf(format, args...)}
}

// errHelpShown ends a run that printed the help a user asked for.
var errHelpShown = errors.New("help shown")

// Run is the whole CLI: it parses args, runs one command and returns the exit
// status. Output goes to stdout, logs and errors to stderr.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr, level: levelInfo}
	err := a.explainRefusal(a.dispatch(ctx, args))
	var uerr *usageError
	switch {
	case err == nil || errors.Is(err, errHelpShown):
		return exitOK
	case errors.As(err, &uerr):
		fmt.Fprintf(stderr, "spool: %s\n", safeLine(uerr.err))
		if uerr.cmd != "" {
			fmt.Fprintf(stderr, "Run 'spool %s --help' for usage.\n", uerr.cmd)
		} else {
			fmt.Fprintln(stderr, "Run 'spool --help' for usage.")
		}
		return exitUsage
	case ctx.Err() != nil:
		return canceled(ctx, stderr)
	default:
		fmt.Fprintf(stderr, "spool: %s\n", safeLine(err))
		return exitFailure
	}
}

// canceled reports a run ended by its context: 143 for SIGTERM, else 130 as for
// Ctrl-C (also when the context was canceled for another reason).
func canceled(ctx context.Context, stderr io.Writer) int {
	var sig Signaled
	if errors.As(context.Cause(ctx), &sig) && sig.Signal == syscall.SIGTERM {
		fmt.Fprintln(stderr, "spool: terminated")
		return exitTerminated
	}
	fmt.Fprintln(stderr, "spool: canceled")
	return exitCanceled
}

// globalFlags defines the flags every command takes too.
func globalFlags(fs *pflag.FlagSet, quiet *bool, level *string) {
	fs.BoolVarP(quiet, "quiet", "q", false, "print only errors and the command's output: no progress,\nnotes or warnings (--log-level error)")
	fs.StringVar(level, "log-level", "", "what goes to stderr besides errors, `LEVEL`: debug (each\nrequest too), info (progress and notes; the default), warn, or error")
}

func serverURLFlag(fs *pflag.FlagSet, p *string) {
	fs.StringVar(p, "server-url", "", "the spool API root `URL` (env SPOOL_SERVER_URL; default "+client.DefaultServerURL+")")
}

func (a *app) dispatch(ctx context.Context, args []string) error {
	top := pflag.NewFlagSet("spool", pflag.ContinueOnError)
	top.SetInterspersed(false) // flags after the command belong to the command
	top.SetOutput(io.Discard)
	top.Usage = func() {}
	serverURLFlag(top, &a.serverURL)
	globalFlags(top, &a.quiet, &a.logLevelName)
	showVersion := top.Bool("version", false, "print spool's version and exit")
	if err := top.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			a.printTopHelp(a.stdout, top)
			return errHelpShown
		}
		return usagef("", "%v", err)
	}
	if err := a.setLogLevel(a.quiet, a.logLevelName); err != nil {
		return err
	}
	if *showVersion {
		return a.printVersion()
	}
	return a.route(ctx, top, top.Args())
}

// route finds the command the words after the global flags name.
func (a *app) route(ctx context.Context, top *pflag.FlagSet, rest []string) error {
	if len(rest) == 0 {
		a.printTopHelp(a.stderr, top)
		return usagef("", "a command is required")
	}
	if rest[0] == "help" {
		a.printTopHelp(a.stdout, top)
		return errHelpShown
	}
	if cmd, cmdArgs, ok := topLevelCommandFor(rest); ok {
		return a.runCommand(ctx, cmd, cmdArgs)
	}
	if rest[0] != "buffer" && rest[0] != "buffers" {
		return usagef("", "unknown command %q: commands are under `spool buffer`", rest[0])
	}
	if len(rest) == 1 {
		a.printTopHelp(a.stderr, top)
		return usagef("", "a buffer command is required")
	}
	name, cmdArgs := rest[1], rest[2:]
	if name == "storage-accounts" { // Tyger's alias
		name = "storage-account"
	}
	if name == "help" || name == "--help" || name == "-h" {
		a.printTopHelp(a.stdout, top)
		return errHelpShown
	}
	for _, cmd := range commands() {
		if cmd.name == name {
			return a.runCommand(ctx, cmd, cmdArgs)
		}
	}
	return usagef("", "unknown command %q for `spool buffer`", name)
}

func topLevelCommandFor(args []string) (command, []string, bool) {
	if cmd, cmdArgs, ok := loginCommandFor(args); ok {
		return cmd, cmdArgs, true
	}
	switch args[0] {
	case "version":
		return versionCommand(), args[1:], true
	case "completion":
		return completionCommand(), args[1:], true
	}
	return command{}, nil, false
}

// commandFlags is a command's flag set with the global flags added, and what the
// command runs once they are parsed.
type commandFlags struct {
	fs        *pflag.FlagSet
	run       func(ctx context.Context, args []string) error
	serverURL string
	quiet     bool
	logLevel  string
}

func (a *app) commandFlags(cmd command) *commandFlags {
	cf := &commandFlags{fs: pflag.NewFlagSet("spool "+cmd.path(), pflag.ContinueOnError)}
	cf.fs.SetOutput(io.Discard)
	cf.fs.Usage = func() {}
	cf.fs.SortFlags = false
	cf.run = cmd.flags(a, cf.fs)
	if !cmd.topLevel {
		serverURLFlag(cf.fs, &cf.serverURL)
	}
	globalFlags(cf.fs, &cf.quiet, &cf.logLevel)
	return cf
}

func (a *app) runCommand(ctx context.Context, cmd command, args []string) error {
	cf := a.commandFlags(cmd)
	if err := cf.fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			printCommandHelp(a.stdout, cmd, cf.fs)
			return errHelpShown
		}
		return &usageError{cmd: cmd.path(), err: err}
	}
	if cf.serverURL != "" {
		a.serverURL = cf.serverURL
	}
	if cf.fs.Changed("quiet") {
		a.quiet = cf.quiet
	}
	if cf.fs.Changed("log-level") {
		a.logLevelName = cf.logLevel
	}
	err := a.setLogLevel(a.quiet, a.logLevelName)
	if err == nil {
		err = cf.run(ctx, cf.fs.Args())
	}
	var uerr *usageError
	if errors.As(err, &uerr) && uerr.cmd == "" {
		uerr.cmd = cmd.path()
	}
	return err
}

// path is the command as typed after `spool`.
func (c command) path() string {
	if c.topLevel {
		return c.name
	}
	return "buffer " + c.name
}

func (a *app) printTopHelp(w io.Writer, top *pflag.FlagSet) {
	fmt.Fprint(w, `Usage: spool [GLOBAL FLAGS] buffer COMMAND [ARGS] [FLAGS]
       spool login [SERVER_URL] [METHOD FLAGS] | spool login status | spool logout
       spool version | spool completion bash|zsh|fish

spool keeps write-once, read-many byte streams ("buffers"). The server holds each
buffer's record and tags and hands out access URLs; data moves straight between
this program and Blob Storage, in parallel, verified by MD5 and a hash chain.

Commands (the group is also spelled "buffers"):
`)
	for _, cmd := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", cmd.name, cmd.summary)
	}
	fmt.Fprint(w, "\nSigning in (for a server that needs an Entra ID token):\n")
	for _, cmd := range topLevelCommands() {
		if cmd.name == "version" {
			fmt.Fprint(w, "\nAnd:\n")
		}
		fmt.Fprintf(w, "  %-13s %s\n", cmd.name, cmd.summary)
	}
	fmt.Fprint(w, "\nGlobal flags (also accepted after the command):\n")
	top.SetOutput(w)
	top.PrintDefaults()
	top.SetOutput(io.Discard)
	fmt.Fprint(w, topHelpEnd)
}

const topHelpEnd = `
Environment:
  SPOOL_SERVER_URL    the API root when --server-url is not given
  SPOOL_FUNCTION_KEY  sent as x-functions-key when the server needs a function key

Exit statuses:
  0    success
  1    failure (the server, storage, a file, or the data)
  2    usage: a wrong command, flag or argument
  130  interrupted by SIGINT (Ctrl-C); a write marks its buffer failed
  143  terminated by SIGTERM; a write marks its buffer failed

Run 'spool buffer COMMAND --help' (or 'spool login --help') for a command's flags
and an example.
`

func printCommandHelp(w io.Writer, cmd command, fs *pflag.FlagSet) {
	fmt.Fprintf(w, "Usage: spool %s %s\n\n%s\n\nFlags:\n", cmd.path(), cmd.args, strings.TrimSpace(cmd.about))
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
	fmt.Fprintf(w, "\nExample:\n%s\n", cmd.example)
}

// client builds the API client from the flag, the environment, the remembered
// login and the defaults.
func (a *app) client() (*client.Client, error) {
	sess, err := rememberedSession()
	if err != nil {
		return nil, err
	}
	opts := a.clientOptions(sess)
	c, err := client.New(opts)
	if err == nil {
		a.talkedTo.serverURL, a.talkedTo.withToken = c.ServerURL(), opts.Authorize != nil
	}
	if err != nil && a.serverURL != "" {
		return nil, usagef("", "--server-url: %v", err) // a flag given wrong, like any other
	}
	return c, err
}

// printJSON writes v to stdout, indented with two spaces as Tyger's CLI does.
func (a *app) printJSON(v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding output: %w", err)
	}
	_, err = fmt.Fprintf(a.stdout, "%s\n", data)
	return err
}

// stderrIsTerminal says whether progress can be redrawn in place.
func (a *app) stderrIsTerminal() bool {
	f, ok := a.stderr.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// oneLine keeps a failure to one line on the terminal.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// safeLine is how every error reaches the terminal: on one line, and with any
// credential scrubbed. The messages are written not to carry one; this is the last
// line of defence for those that quote something they should not.
func safeLine(err error) string {
	return redact.String(oneLine(err.Error()))
}

// withoutArgs is the flags function of a command that has no flags or arguments
// of its own: it runs run.
func withoutArgs(run func(a *app, ctx context.Context) error) func(*app, *pflag.FlagSet) func(context.Context, []string) error {
	return func(a *app, _ *pflag.FlagSet) func(context.Context, []string) error {
		return func(ctx context.Context, args []string) error {
			if err := wantArgs(args, 0, ""); err != nil {
				return err
			}
			return run(a, ctx)
		}
	}
}

// wantArgs checks the number of positional arguments.
func wantArgs(args []string, n int, names string) error {
	switch {
	case len(args) < n:
		return usagef("", "missing %s", names)
	case len(args) > n:
		return usagef("", "unexpected argument %q", args[n])
	}
	return nil
}
