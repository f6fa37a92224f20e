// Command seipbot is a ChatOps bot for security teams. See README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"sort"
	"strings"
	"syscall"
	_ "time/tzdata" // zones must load in a minimal container without zoneinfo
)

// version is stamped at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	c := &cli{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, env: os.Environ()}
	os.Exit(c.main(ctx, os.Args[1:]))
}

// cli holds the process's streams and environment, so tests run the
// command in-process.
type cli struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	env            []string
}

type command struct {
	summary string
	run     func(c *cli, ctx context.Context, args []string) error
}

// commands lists the subcommands. It is a function, not a package-level
// map, because usage (reached from the map's entries) reads it.
func commands() map[string]command {
	return map[string]command{
		"shell":       {"chat with the bot in this terminal, or pipe lines through it", (*cli).shell},
		"run":         {"run the bot on the adapters in the configuration", (*cli).runBot},
		"config":      {"check or print the configuration (config check | config print)", (*cli).config},
		"keygen":      {"print a new secret key, or with --kms add one to the KMS-sealed keyring", (*cli).keygen},
		"reencrypt":   {"re-encrypt stored data under the current key after a rotation", (*cli).reencrypt},
		"version":     {"print the version", (*cli).version},
		"access":      {"explain whether an identity may run a command line (access check)", (*cli).accessCmd},
		"audit":       {"verify the audit log or export it as JSON lines (audit verify | audit export)", (*cli).auditCmd},
		"healthcheck": {"probe the webhook server's /healthz: exit 0 if healthy, 1 if not", (*cli).healthcheck},
	}
}

// usageError is a mistake on the command line; it exits with status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func (c *cli) main(ctx context.Context, args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		c.usage(c.stdout)
		return 0
	}
	cmd, ok := commands()[args[0]]
	if !ok {
		fmt.Fprintf(c.stderr, "seipbot: %q is not a seipbot command; run \"seipbot help\" for the list.\n", args[0])
		return 2
	}
	err := cmd.run(c, ctx, args[1:])
	var ue usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(c.stderr, "seipbot %s: %s\n", args[0], ue.msg)
		return 2
	default:
		fmt.Fprintf(c.stderr, "seipbot %s: %s\n", args[0], err)
		return 1
	}
}

func (c *cli) usage(w io.Writer) {
	fmt.Fprintln(w, "seipbot: a ChatOps bot for security teams.")
	fmt.Fprintln(w, "\nUsage: seipbot <command> [flags]   (seipbot <command> --help for its flags)")
	fmt.Fprintln(w, "\nCommands:")
	cmds := commands()
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, cmds[n].summary)
	}
}

// flags returns a flag set that reports its errors as usage errors.
func (c *cli) flags(name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	fs.Usage = func() {
		fmt.Fprintf(c.stderr, "Usage: seipbot %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args and rejects leftovers.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q", strings.Join(fs.Args(), " "))}
	}
	return nil
}

func (c *cli) version(_ context.Context, args []string) error {
	if err := parse(c.flags("version", "version"), args); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "seipbot %s (%s, %s/%s)\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}
