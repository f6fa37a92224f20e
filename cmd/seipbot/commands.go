package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/seipbot/seipbot/adapter/irc"
	"github.com/seipbot/seipbot/adapter/matrix"
	"github.com/seipbot/seipbot/adapter/mattermost"
	"github.com/seipbot/seipbot/adapter/shell"
	"github.com/seipbot/seipbot/adapter/slack"
	"github.com/seipbot/seipbot/adapter/xmpp"
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
	a, err := c.open(ctx, cfg, true, "shell:"+*userName)
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
	a, err := c.open(ctx, cfg, false, "")
	if err != nil {
		return err
	}
	defer closeQuietly(a.st, a.log)
	for _, ad := range adapters {
		a.addAdapter(ad)
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
	if sc := cfg.Adapters.Slack; sc != nil {
		a, err := slack.New(slack.Options{
			Mode: sc.Mode, BotToken: sc.BotToken.Reveal(), AppToken: sc.AppToken.Reveal(),
			SigningSecret: sc.SigningSecret.Reveal(), Listen: sc.Listen, APIURL: sc.APIURL, Logger: log,
		})
		if err != nil {
			return nil, err
		}
		list = append(list, a)
	}
	if mc := cfg.Adapters.Mattermost; mc != nil {
		a, err := mattermost.New(mattermost.Options{
			URL: mc.URL, Token: mc.Token.Reveal(),
			ActionURL: mc.ActionURL, ActionListen: mc.ActionListen, ActionSecret: []byte(mc.ActionSecret.Reveal()),
			MaxParts: mc.MaxParts, Logger: log,
		})
		if err != nil {
			return nil, err
		}
		list = append(list, a)
	}
	if x := cfg.Adapters.XMPP; x != nil {
		a, err := newXMPP(cfg.Name, x, log)
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

// newXMPP makes the XMPP adapter from its section; the bot's name is its
// nick unless the section names another.
func newXMPP(name string, x *config.XMPP, log *slog.Logger) (*xmpp.Adapter, error) {
	opts := xmpp.Options{
		JID: x.JID, Password: x.Password.Reveal(), Address: x.Address,
		DirectTLS: x.DirectTLS, Plaintext: x.InsecurePlaintext, CAFile: x.CAFile,
		Nick: x.Nick, MaxLen: x.MaxLength, PingInterval: time.Duration(x.PingInterval),
		Logger: log,
	}
	if opts.Nick == "" {
		opts.Nick = name
	}
	for _, r := range x.Rooms {
		opts.Rooms = append(opts.Rooms, xmpp.Room{JID: r.JID, Password: r.Password.Reveal()})
	}
	return xmpp.New(opts)
}

// open opens the store and wires the bot; createKey lets the shell make
// its own key, and owner is the identity that owns a bot without an access
// policy.
func (c *cli) open(ctx context.Context, cfg *config.Config, createKey bool, owner string) (*app, error) {
	log := c.logger(cfg)
	kr, err := c.keyring(ctx, cfg, createKey)
	if err != nil {
		return nil, err
	}
	st, desc, shared, err := openStore(cfg, kr, log)
	if err != nil {
		return nil, err
	}
	mirror, err := c.mirror(cfg)
	if err != nil {
		st.Close()
		return nil, err
	}
	a, err := wire(cfg, st, desc, log, wiring{owner: owner, keys: kr, mirror: mirror, shared: shared})
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

func (c *cli) keygen(ctx context.Context, args []string) error {
	fs := c.flags("keygen", "keygen [--kms [--drop-old] [--config FILE]]")
	useKMS := fs.Bool("kms", false, "add the new key to the keyring file of secret_key_provider instead of printing it; the key is never shown")
	dropOld := fs.Bool("drop-old", false, "with --kms: make no key, keep only the current one; run it only after \"seipbot reencrypt\", since what the old keys sealed can no longer be read")
	configFile := fs.String("config", "", "with --kms: the configuration file (YAML) that sets secret_key_provider; SEIPBOT_* variables override it")
	if err := parse(fs, args); err != nil {
		return err
	}
	if !*useKMS {
		if *dropOld || *configFile != "" {
			return usageError{"--drop-old and --config go with --kms"}
		}
		k, err := sealed.NewKey()
		if err != nil {
			return err
		}
		fmt.Fprintln(c.stdout, k)
		return nil
	}
	cfg, err := c.load(commonFlags{config: *configFile})
	if err != nil {
		return err
	}
	if cfg.SecretKeyProvider == nil {
		return usageError{"--kms needs secret_key_provider in the configuration (--config) or SEIPBOT_SECRET_KEY_PROVIDER_* variables; see docs/deploy.md"}
	}
	return c.keygenKMS(ctx, cfg.SecretKeyProvider, *dropOld)
}

// keygenKMS adds a new key in front of the keyring in the provider's file,
// or with dropOld keeps only the current one. It prints key ids and never
// a key, so that the keys exist only sealed in the file.
func (c *cli) keygenKMS(ctx context.Context, cfg *config.SecretKeyProvider, dropOld bool) error {
	p, err := keyProvider(cfg)
	if err != nil {
		return err
	}
	if dropOld {
		kr, err := p.DropOld(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "The keyring in %s now holds only key %s.\nRestart the bot so it lets go of the old keys.\n", p.Path, kr.IDs()[0])
		return nil
	}
	k, err := sealed.NewKey()
	if err != nil {
		return err
	}
	kr, err := p.Rotate(ctx, k)
	if err != nil {
		return err
	}
	ids := kr.IDs()
	if len(ids) == 1 {
		fmt.Fprintf(c.stdout, "Created the keyring in %s with key %s, sealed under KMS key %s.\nStart the bot: it reads the keyring through KMS.\n", p.Path, ids[0], p.KeyID)
		return nil
	}
	fmt.Fprintf(c.stdout, "Added key %s to the keyring in %s; it seals from now on, and older keys %s still open what they sealed.\n", ids[0], p.Path, strings.Join(ids[1:], ", "))
	fmt.Fprintln(c.stdout, "Next: restart the bot, run \"seipbot reencrypt\", then \"seipbot keygen --kms --drop-old\" and restart again.")
	return nil
}

func (c *cli) reencrypt(ctx context.Context, args []string) error {
	cfg, err := c.setup(c.flags("reencrypt", "reencrypt [--config FILE] [--data-dir DIR]"), args)
	if err != nil {
		return err
	}
	kr, st, err := c.openData(ctx, cfg, false)
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
	fmt.Fprintf(c.stdout, "Re-encrypted %d records under the current key.\n", n)
	if cfg.SecretKeyProvider != nil {
		fmt.Fprintln(c.stdout, "Older keys can now leave the keyring: seipbot keygen --kms --drop-old.")
	} else {
		fmt.Fprintln(c.stdout, "Older keys can now be removed from secret_key.")
	}
	return nil
}
