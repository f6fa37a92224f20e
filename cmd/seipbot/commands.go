package main

import (
	"context"
	"fmt"

	"github.com/seipbot/seipbot/adapter/shell"
	"github.com/seipbot/seipbot/bot"
	"github.com/seipbot/seipbot/config"
	"github.com/seipbot/seipbot/store/memory"
	"github.com/seipbot/seipbot/store/sealed"
)

func (c *cli) shell(ctx context.Context, args []string) error {
	fs := c.flags("shell", "shell [--config FILE] [--data-dir DIR] [--user NAME] [--room NAME]")
	userName := fs.String("user", "", "who you are: your identity is shell:NAME (default: your OS user)")
	room := fs.String("room", "", "talk in this room, where only lines addressed to the bot are commands (default: a direct conversation)")
	cfg, err := c.setup(fs, args)
	if err != nil {
		return err
	}
	if *userName == "" && cfg.Adapters.Shell != nil {
		*userName = cfg.Adapters.Shell.User
	}
	if *room == "" && cfg.Adapters.Shell != nil {
		*room = cfg.Adapters.Shell.Room
	}
	if *userName == "" {
		*userName = defaultUser()
	}
	interactive := isTerminal(c.stdin)
	a, err := c.open(cfg, true)
	if err != nil {
		return err
	}
	defer closeQuietly(a.st, a.log)
	if interactive {
		fmt.Fprintf(c.stdout, "seipbot shell: you are shell:%s. Say \"help\" for commands; Ctrl-D leaves.\n", *userName)
	}
	a.bot.AddAdapter(shell.New(shell.Options{
		In: c.stdin, Out: c.stdout, User: *userName, Room: *room,
		Interactive: interactive, Prompt: "> ",
	}))
	return a.run(ctx)
}

func (c *cli) runBot(ctx context.Context, args []string) error {
	cfg, err := c.setup(c.flags("run", "run --config FILE [--data-dir DIR]"), args)
	if err != nil {
		return err
	}
	if cfg.Adapters.Shell == nil {
		return bot.ErrNoAdapter
	}
	a, err := c.open(cfg, false)
	if err != nil {
		return err
	}
	defer closeQuietly(a.st, a.log)
	sh := cfg.Adapters.Shell
	if sh.User == "" {
		sh.User = defaultUser()
	}
	a.bot.AddAdapter(shell.New(shell.Options{In: c.stdin, Out: c.stdout, User: sh.User, Room: sh.Room}))
	a.log.Info("seipbot running", "version", version, "adapters", a.bot.Adapters())
	return a.run(ctx)
}

// open opens the store and wires the bot; createKey lets the shell make
// its own key.
func (c *cli) open(cfg *config.Config, createKey bool) (*app, error) {
	log := c.logger(cfg)
	kr, err := c.keyring(cfg, createKey)
	if err != nil {
		return nil, err
	}
	st, desc, shared, err := openStore(cfg, kr, log)
	if err != nil {
		return nil, err
	}
	a, err := wire(cfg, st, desc, shared, kr, log)
	if err != nil {
		st.Close()
		return nil, err
	}
	return a, nil
}

func (c *cli) config(_ context.Context, args []string) error {
	if len(args) == 0 || (args[0] != "check" && args[0] != "print") {
		return usageError{"say \"config check\" or \"config print\""}
	}
	cfg, err := c.setup(c.flags("config "+args[0], "config "+args[0]+" [--config FILE] [--data-dir DIR]"), args[1:])
	if err != nil {
		return err
	}
	if args[0] == "print" {
		out, err := cfg.Redacted()
		if err != nil {
			return err
		}
		_, err = c.stdout.Write(out)
		return err
	}
	// Wiring the bot on a throwaway store also catches what only shows
	// when plugins register: a canned command that clashes with a built-in.
	kr, err := sealed.NewKeyring()
	if err != nil {
		return err
	}
	if _, err := wire(cfg, sealed.New(memory.New(), kr), "memory", nil, kr, c.logger(cfg)); err != nil {
		return err
	}
	fmt.Fprintln(c.stdout, "The configuration is valid.")
	return nil
}

func (c *cli) keygen(_ context.Context, args []string) error {
	if err := parse(c.flags("keygen", "keygen"), args); err != nil {
		return err
	}
	k, err := sealed.NewKey()
	if err != nil {
		return err
	}
	fmt.Fprintln(c.stdout, k)
	return nil
}

func (c *cli) reencrypt(ctx context.Context, args []string) error {
	cfg, err := c.setup(c.flags("reencrypt", "reencrypt [--config FILE] [--data-dir DIR]"), args)
	if err != nil {
		return err
	}
	kr, err := c.keyring(cfg, false)
	if err != nil {
		return err
	}
	st, _, _, err := openStore(cfg, kr, c.logger(cfg))
	if err != nil {
		return err
	}
	defer st.Close()
	n, err := sealed.Reencrypt(ctx, st)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "Re-encrypted %d records under the current key; older keys can now be removed from secret_key.\n", n)
	return nil
}
