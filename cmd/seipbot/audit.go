package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/seipbot/seipbot/audit"
	"github.com/seipbot/seipbot/bot"
	"github.com/seipbot/seipbot/config"
	"github.com/seipbot/seipbot/store/sealed"
)

// mirror opens where audit records are copied: nothing, stdout, or a file
// appended to.
func (c *cli) mirror(cfg *config.Config) (io.Writer, error) {
	switch cfg.Audit.Mirror {
	case "":
		return nil, nil
	case "stdout":
		return c.stdout, nil
	}
	f, err := os.OpenFile(cfg.Audit.Mirror, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit.mirror: %w", err)
	}
	// The file stays open for the life of the process, which closes it.
	return f, nil
}

// auditCmd is "seipbot audit verify" and "seipbot audit export".
func (c *cli) auditCmd(ctx context.Context, args []string) error {
	if len(args) == 0 || (args[0] != "verify" && args[0] != "export") {
		return usageError{`say "audit verify" or "audit export --since T"`}
	}
	synopsis := "audit verify [--config FILE] [--data-dir DIR]"
	if args[0] == "export" {
		synopsis = "audit export --since RFC3339|DURATION [--format jsonl] [--config FILE] [--data-dir DIR]"
	}
	fs := c.flags("audit "+args[0], synopsis)
	f := registerCommon(fs)
	since := fs.String("since", "", "export records from this time (2026-01-02T15:04:05Z) or this long ago (24h, 7d)")
	format := fs.String("format", "jsonl", "output format; jsonl (one JSON record a line) is the only one")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	var from time.Time
	if args[0] == "export" {
		if *format != "jsonl" {
			return usageError{fmt.Sprintf("--format %q is not supported; use jsonl", *format)}
		}
		var err error
		if from, err = parseSince(*since, time.Now()); err != nil {
			return err
		}
	}
	cfg, err := c.load(*f)
	if err != nil {
		return err
	}
	kr, st, err := c.openData(ctx, cfg, true)
	if err != nil {
		return err
	}
	defer st.Close()
	if args[0] == "export" {
		return audit.Export(ctx, st, from, c.stdout)
	}
	sum, err := audit.Verify(ctx, st, kr.DeriveAll("audit"))
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "The audit log is intact: %d records, %d checkpoints", sum.Records, sum.Checkpoints)
	if sum.Records > 0 {
		fmt.Fprintf(c.stdout, ", the last at %s", sum.Last.UTC().Format(time.RFC3339))
	}
	fmt.Fprintln(c.stdout, ".")
	return nil
}

// openData opens the store with the configured key or, when shellKey is
// set, with the key the shell made for itself if there is one. It never
// makes a key: a new key would only show an empty store.
func (c *cli) openData(ctx context.Context, cfg *config.Config, shellKey bool) (*sealed.Keyring, *sealed.Store, error) {
	_, statErr := os.Stat(filepath.Join(cfg.DataDir, keyFile))
	kr, err := c.keyring(ctx, cfg, shellKey && statErr == nil)
	if err != nil {
		return nil, nil, err
	}
	st, _, _, err := openStore(cfg, kr, c.logger(cfg))
	return kr, st, err
}

// recordRotation audits a key rotation and signs the audit checkpoints
// again with the new current key, so that the log still verifies once the
// old keys leave the keyring.
func recordRotation(ctx context.Context, st *sealed.Store, kr *sealed.Keyring, n int) error {
	keys := kr.DeriveAll("audit")
	if err := audit.Resign(ctx, st, keys); err != nil {
		return fmt.Errorf("the data is re-encrypted, but the audit checkpoints were not signed again: %w", err)
	}
	l, err := audit.New(st, audit.Options{Keys: keys})
	if err != nil {
		return err
	}
	if err := l.Open(ctx); err != nil {
		return err
	}
	l.Add(audit.Record{Kind: "key", Detail: fmt.Sprintf("re-encrypted %d records under the current key", n)})
	return l.Close()
}

// parseSince reads --since: a time, or a duration before now.
func parseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, usageError{"--since is required: a time such as 2026-01-02T15:04:05Z or a duration such as 24h"}
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if d, err := bot.ParseDuration(s); err == nil {
		return now.Add(-d), nil
	}
	return time.Time{}, usageError{fmt.Sprintf("--since %q is neither a time such as 2026-01-02T15:04:05Z nor a duration such as 24h", s)}
}
