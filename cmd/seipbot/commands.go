package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/seipbot/seipbot/adapter/irc"
	"github.com/seipbot/seipbot/adapter/matrix"
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
	a, err := c.open(cfg, true, "shell:"+*userName)
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
	adapters, err := c.adapters(cfg, c.logger(cfg))
	if err != nil {
		return err
	}
	if len(adapters) == 0 {
		return bot.ErrNoAdapter
	}
	a, err := c.open(cfg, false, "")
	if err != nil {
		return err
	}
	defer closeQuietly(a.st, a.log)
	for _, ad := range adapters {
		a.bot.AddAdapter(ad)
	}
	a.log.Info("seipbot running", "version", version, "adapters", a.bot.Adapters())
	return a.run(ctx)
}

// adapters builds the chat adapters the configuration turns on.
func (c *cli) adapters(cfg *config.Config, log *slog.Logger) ([]bot.Adapter, error) {
	var list []bot.Adapter
	if sh := cfg.Adapters.Shell; sh != nil {
		user := sh.User
		if user == "" {
			user = defaultUser()
		}
		list = append(list, shell.New(shell.Options{In: c.stdin, Out: c.stdout, User: user, Room: sh.Room}))
	}
	if ic := cfg.Adapters.IRC; ic != nil {
		nick := ic.Nick
		if nick == "" {
			nick = cfg.Name
		}
		a, err := irc.New(irc.Options{
			Addr: ic.Server, Insecure: ic.Insecure, CAFile: ic.CAFile,
			CertFile: ic.CertFile, KeyFile: ic.KeyFile, ServerPassword: ic.ServerPassword.Reveal(),
			Nick: nick, Username: ic.Username, RealName: ic.RealName,
			Auth: ic.Auth, Account: ic.Account, Password: ic.Password.Reveal(),
			Channels: ic.Channels, Keys: ic.Keys(),
			PaceBurst: ic.Pace.Burst, PaceEvery: time.Duration(ic.Pace.Every),
			Logger: log,
		})
		if err != nil {
			return nil, err
		}
		list = append(list, a)
	}
	if mc := cfg.Adapters.Matrix; mc != nil {
		a, err := matrix.New(matrix.Options{
			Homeserver: mc.Homeserver, UserID: mc.UserID,
			Password: mc.Password.Reveal(), AccessToken: mc.AccessToken.Reveal(),
			DeviceID: mc.DeviceID, DisplayName: mc.DisplayName,
			Rooms: mc.Rooms, InviteFrom: mc.InviteFrom, StateFile: mc.StateFile,
			Logger: log,
		})
		if err != nil {
			return nil, err
		}
		list = append(list, a)
	}
	return list, nil
}

// open opens the store and wires the bot; createKey lets the shell make
// its own key, and owner is the identity that owns a bot without an access
// policy.
func (c *cli) open(cfg *config.Config, createKey bool, owner string) (*app, error) {
	log := c.logger(cfg)
	kr, err := c.keyring(cfg, createKey)
	if err != nil {
		return nil, err
	}
	st, desc, err := openStore(cfg, kr, log)
	if err != nil {
		return nil, err
	}
	mirror, err := c.mirror(cfg)
	if err != nil {
		st.Close()
		return nil, err
	}
	a, err := wire(cfg, st, desc, log, wiring{owner: owner, keys: kr, mirror: mirror})
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
	// Wiring the bot also catches what only shows when plugins register:
	// a canned command that clashes with a built-in.
	if _, err := wireDry(cfg, c.logger(cfg)); err != nil {
		return err
	}
	fmt.Fprintln(c.stdout, "The configuration is valid.")
	return nil
}

// wireDry wires the bot on a throwaway store, for commands that need the
// bot's commands and policy but run nothing.
func wireDry(cfg *config.Config, log *slog.Logger) (*app, error) {
	k, err := sealed.NewKey()
	if err != nil {
		return nil, err
	}
	kr, err := sealed.ParseKeyring(k)
	if err != nil {
		return nil, err
	}
	return wire(cfg, sealed.New(memory.New(), kr), "memory", log, wiring{keys: kr})
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
	kr, st, err := c.openData(cfg, false)
	if err != nil {
		return err
	}
	defer st.Close()
	n, err := sealed.Reencrypt(ctx, st)
	if err != nil {
		return err
	}
	if err := recordRotation(ctx, st, kr, n); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "Re-encrypted %d records under the current key; older keys can now be removed from secret_key.\n", n)
	return nil
}
