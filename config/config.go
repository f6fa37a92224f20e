// Package config loads seipbot's settings and checks them.
//
// A Config is built in layers, each overriding the one before:
//
//  1. Defaults, the one place fixed defaults are written;
//  2. the YAML file, read strictly: an unknown key, a key set twice or a
//     value of the wrong type is an error naming the file, line and key path;
//  3. the environment: every setting but the lists of commands and hears
//     has a variable SEIPBOT_<PATH>, the key path in upper case joined by
//     underscores (store.kind is SEIPBOT_STORE_KIND), found by reflection
//     over the yaml tags so a new field needs no extra code; a list is
//     comma-separated, and a Secret also reads SEIPBOT_<PATH>_FILE;
//  4. the paths that default from others (data_dir from XDG_DATA_HOME or
//     HOME, store.path from data_dir), which come last so that overriding
//     data_dir in any layer moves the store with it;
//  5. Validate, which only rejects and never changes a value.
//
// Load reports problems joined with errors.Join, so a user fixes every
// unknown key and badly typed value in one go, and then every invalid value.
package config

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is the whole of seipbot's configuration.
type Config struct {
	// Name is what the bot answers to: @name, "name:" and "name,".
	Name string `yaml:"name"`
	// Prefix addresses the bot in front of a command, as in "!help";
	// empty turns prefixes off.
	Prefix string `yaml:"prefix"`
	// Timezone is the IANA zone reminders and schedules use unless a user
	// gives another.
	Timezone string `yaml:"timezone"`
	// DataDir holds the bot's files; it defaults to $XDG_DATA_HOME/seipbot
	// or ~/.local/share/seipbot.
	DataDir string `yaml:"data_dir"`
	// SecretKey is one or more comma-separated keys that encrypt state at
	// rest and on the bus; more than one lets keys rotate without downtime.
	SecretKey Secret `yaml:"secret_key"`
	// SecretKeyProvider, when set, is where the keyring comes from instead
	// of secret_key, so that the keys are nowhere in the clear.
	SecretKeyProvider *SecretKeyProvider `yaml:"secret_key_provider,omitempty"`
	// Rooms, when not empty, are the only rooms the bot answers in.
	Rooms []string `yaml:"rooms"`
	// CommandTimeout bounds how long one command may run.
	CommandTimeout Duration  `yaml:"command_timeout"`
	RateLimit      RateLimit `yaml:"rate_limit"`
	Log            Log       `yaml:"log"`
	Store          Store     `yaml:"store"`
	Adapters       Adapters  `yaml:"adapters"`
	// HTTP is the webhook server; it runs when http.listen is set.
	HTTP    HTTP    `yaml:"http"`
	Sources Sources `yaml:"sources"`
	Alerts  Alerts  `yaml:"alerts"`
	// Commands are canned replies, set only in the file.
	Commands []Command `yaml:"commands"`
	// Hears are replies to patterns heard in any message, set only in the
	// file.
	Hears []Hear `yaml:"hears"`
	// Schedules are messages the bot says on a schedule, set only in the
	// file.
	Schedules []Schedule `yaml:"schedules,omitempty"`
	Plugins   Plugins    `yaml:"plugins"`
	// Scope is what scans may target, set only in the file; empty means
	// nothing can be scanned.
	Scope []ScopeRule `yaml:"scope"`
	Jobs  Jobs        `yaml:"jobs"`
	Scan  Scan        `yaml:"scan"`
	// OSV is the offline vulnerability database for "scan repo" and
	// "cve".
	OSV      OSV      `yaml:"osv"`
	Monitors Monitors `yaml:"monitors"`
	// Access is the access policy. Without it, "seipbot run" lets people
	// run only the commands that declare no permission, and "seipbot
	// shell" treats its user as the owner with every permission.
	Access *Access `yaml:"access,omitempty"`
	Audit  Audit   `yaml:"audit"`
}

// SecretKeyProvider keeps the keyring in a file sealed under a key held
// by a key management service; "seipbot keygen --kms" writes the file.
type SecretKeyProvider struct {
	// Kind is the service; aws-kms is the only one.
	Kind string `yaml:"kind"`
	// KeyID is the KMS key: a key id, key ARN, alias name or alias ARN.
	KeyID string `yaml:"key_id"`
	// Region is the key's AWS region; empty uses AWS_REGION, else
	// AWS_DEFAULT_REGION.
	Region string `yaml:"region"`
	// Endpoint replaces KMS's URL, for a VPC endpoint; empty uses KMS's.
	Endpoint string `yaml:"endpoint"`
	// KeyringFile is the sealed keyring.
	KeyringFile string `yaml:"keyring_file"`
}

// Access is who may run what, where, and with whose approval. Its groups,
// roles and rules come from the file only.
type Access struct {
	// Groups map a name to identities ("slack:U024BE7LH", "shell:alice").
	Groups map[string][]string `yaml:"groups"`
	// Roles map a name to the permissions it holds.
	Roles map[string]Role `yaml:"roles"`
	// Grants give roles to groups or single identities.
	Grants []Grant `yaml:"grants"`
	// Approvals hold back matching commands until others approve them.
	Approvals []Approval `yaml:"approvals"`
	// RateLimits bound how often one identity runs matching commands.
	RateLimits []CommandRateLimit `yaml:"rate_limits"`
	// SecurityRoom is told about identities refused again and again.
	SecurityRoom string `yaml:"security_room"`
	// Notifications say which rooms receive which notifications, by
	// topic: "alerts.<source>" (alerts.github, alerts.falco, …),
	// "jobs.results", "access.denials" and "plugins.admin". Without any
	// rule every room receives everything; once one is written the list is
	// exhaustive, and a room receives only the topics a rule lets it.
	Notifications []NotificationRule `yaml:"notifications"`
}

// NotificationRule lets Rooms receive the notifications whose topic
// matches one of Allow, patterns written like permissions ("alerts.*").
type NotificationRule struct {
	Rooms []string `yaml:"rooms"`
	Allow []string `yaml:"allow"`
}

// Role is a set of permission patterns: "scan.ports", "scan.*" or "*".
type Role struct {
	Permissions []string `yaml:"permissions"`
}

// Grant gives Role to Group or to Identity, optionally only in Rooms
// ("direct" for direct conversations) and for argument values in Args.
type Grant struct {
	Group    string              `yaml:"group"`
	Identity string              `yaml:"identity"`
	Role     string              `yaml:"role"`
	Rooms    []string            `yaml:"rooms"`
	Args     map[string][]string `yaml:"args"`
}

// Approval makes commands whose permission matches Permission wait for
// Approvals people holding the role Approvers, for at most Expires.
type Approval struct {
	Permission string   `yaml:"permission"`
	Approvals  int      `yaml:"approvals"`
	Approvers  string   `yaml:"approvers"`
	Expires    Duration `yaml:"expires"`
}

// CommandRateLimit limits one identity's runs of matching commands.
type CommandRateLimit struct {
	Permission string `yaml:"permission"`
	PerMinute  int    `yaml:"per_minute"`
	Burst      int    `yaml:"burst"`
}

// Audit configures the audit log, which is always on.
type Audit struct {
	// Mirror copies each record as a JSON line to "stdout" or to a file,
	// for log shippers; empty copies nothing.
	Mirror string `yaml:"mirror"`
}

// Plugins is the folder of script and HTTP plugin manifests.
type Plugins struct {
	// Dir holds one NAME.yaml manifest per plugin; empty turns them off.
	Dir string `yaml:"dir"`
	// Poll is how often changed manifests are reloaded; 0s reloads them
	// only on "plugins reload".
	Poll Duration `yaml:"poll"`
	// AdminRoom is told about manifests a reload rejected; empty tells
	// only the log.
	AdminRoom string `yaml:"admin_room"`
}

// RateLimit limits commands per user; a zero field turns its limit off.
type RateLimit struct {
	PerMinute int `yaml:"per_minute"`
	Burst     int `yaml:"burst"`
}

// Log configures the process log.
type Log struct {
	// Level is debug, info, warn or error.
	Level string `yaml:"level"`
	// Format is text, json, or auto: text on a terminal, json otherwise.
	Format string `yaml:"format"`
	// Source adds the file and line of the logging call to each record.
	Source bool `yaml:"source"`
}

// Store chooses where state is kept.
type Store struct {
	// Kind is bolt (a file, the default), memory (lost on exit) or redis
	// (shared by replicas of the bot, which then coordinate through it).
	Kind string `yaml:"kind"`
	// Path is the bolt file; it defaults to <data_dir>/seipbot.db.
	Path string `yaml:"path"`

	// The settings below are for kind redis.

	// URL is redis://host:6379/0, or rediss://… for TLS. It must not hold
	// the password, which would show wherever the URL is printed.
	URL string `yaml:"url,omitempty"`
	// Addrs are further nodes (host:port): the Sentinels when MasterName
	// is set, otherwise Redis Cluster seed nodes.
	Addrs []string `yaml:"addrs,omitempty"`
	// MasterName names the master that the Sentinels monitor.
	MasterName string `yaml:"master_name,omitempty"`
	// Username is the ACL user; empty means the default user.
	Username string `yaml:"username,omitempty"`
	Password Secret `yaml:"password,omitempty"`
	// KeyPrefix starts every key, so bots can share a database.
	KeyPrefix string `yaml:"key_prefix,omitempty"`
	TLS       TLS    `yaml:"tls,omitempty"`
}

// TLS secures a connection to a server.
type TLS struct {
	// Enabled turns TLS on; a rediss:// URL does too.
	Enabled bool `yaml:"enabled,omitempty"`
	// CAFile holds the PEM certificates to trust instead of the system's.
	CAFile string `yaml:"ca_file,omitempty"`
	// CertFile and KeyFile are a client certificate and its key, for
	// servers that ask for one.
	CertFile string `yaml:"cert_file,omitempty"`
	KeyFile  string `yaml:"key_file,omitempty"`
	// ServerName is the name the server's certificate must hold; empty
	// means the URL's host.
	ServerName string `yaml:"server_name,omitempty"`
}

// Adapters holds one optional entry per chat platform. An adapter is on when
// its key is present in the file, even with nothing under it, or when one of
// its environment variables is set; a nil pointer means off.
type Adapters struct {
	Shell      *Shell      `yaml:"shell,omitempty"`
	IRC        *IRC        `yaml:"irc,omitempty"`
	Slack      *Slack      `yaml:"slack,omitempty"`
	XMPP       *XMPP       `yaml:"xmpp,omitempty"`
	Mattermost *Mattermost `yaml:"mattermost,omitempty"`
	Matrix     *Matrix     `yaml:"matrix,omitempty"`
}

// Slack connects the bot to a Slack workspace as a Slack app (the app's
// manifest is adapter/slack/manifest.yaml).
type Slack struct {
	// Mode is socket (the default: Socket Mode, no public endpoint) or
	// http (the Events API, served on Listen).
	Mode string `yaml:"mode"`
	// BotToken is the Bot User OAuth Token.
	BotToken Secret `yaml:"bot_token"`
	// AppToken is the app-level token with connections:write, for Socket
	// Mode.
	AppToken Secret `yaml:"app_token"`
	// SigningSecret checks the requests Slack sends in http mode.
	SigningSecret Secret `yaml:"signing_secret"`
	// Listen is the address http mode serves /slack/events and
	// /slack/interactivity on, such as ":3000".
	Listen string `yaml:"listen"`
	// APIURL is the Web API's base URL, for a proxy or a test server;
	// empty means Slack's.
	APIURL string `yaml:"api_url"`
}

// Shell is the terminal adapter, for trying the bot locally.
type Shell struct {
	// User is who the terminal speaks as; empty means the login name.
	User string `yaml:"user"`
	// Room is the room the terminal is in; empty means the adapter's own.
	Room string `yaml:"room"`
}

// IRC connects the bot to an IRC network.
type IRC struct {
	// Server is the host:port to connect to, such as irc.libera.chat:6697.
	Server string `yaml:"server"`
	// Insecure connects without TLS, sending passwords in the clear; use it
	// only for a server on loopback.
	Insecure bool `yaml:"insecure"`
	// CAFile holds the certificate authorities (PEM) that verify the
	// server, in place of the system's, for a private network.
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are a client certificate, for auth
	// sasl-external or a network that recognises certificate fingerprints.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ServerPassword is sent with PASS, for servers that require one.
	ServerPassword Secret `yaml:"server_password"`
	// Nick defaults to name; when taken, the bot appends _ or a number.
	Nick     string `yaml:"nick"`
	Username string `yaml:"username"`
	RealName string `yaml:"real_name"`
	// Auth is how the bot logs in to the network's services: sasl-plain,
	// sasl-external, nickserv, or empty for not at all.
	Auth string `yaml:"auth"`
	// Account defaults to the nick.
	Account  string `yaml:"account"`
	Password Secret `yaml:"password"`
	// Channels to join, such as "#soc".
	Channels []string `yaml:"channels"`
	// ChannelKeys are the keys of the channels that have one, as
	// "#chan=key" separated by commas; a secret, since a key is a password.
	ChannelKeys Secret `yaml:"channel_keys"`
	// Pace keeps the bot under the server's flood limit: Burst lines at
	// once, then one every Every. Zero values mean 4 and 500ms.
	Pace Pace `yaml:"pace"`
}

// Mattermost connects the bot to a Mattermost server as a bot account.
type Mattermost struct {
	// URL is the server's address, such as https://chat.example.com.
	URL string `yaml:"url"`
	// Insecure allows an http:// URL to a server not on loopback, which
	// sends the token in the clear; use it only inside a private network.
	Insecure bool `yaml:"insecure"`
	// Token is the bot account's personal access token.
	Token Secret `yaml:"token"`
	// ActionURL is where Mattermost sends clicks on the bot's buttons
	// (Approve, Deny): the address at which it reaches action_listen.
	// Empty offers no buttons; replies still say what to type.
	ActionURL string `yaml:"action_url"`
	// ActionListen is the host:port the bot serves button clicks on.
	ActionListen string `yaml:"action_listen"`
	// ActionSecret keys the signatures on buttons, so buttons keep working
	// across restarts; empty means a new random key at each start.
	ActionSecret Secret `yaml:"action_secret"`
	// MaxParts is how many posts a long reply may be split into; a longer
	// one is uploaded as a file. Zero means 8.
	MaxParts int `yaml:"max_parts"`
}

// Pace is a sending rate: Burst lines at once, then one every Every.
type Pace struct {
	Burst int      `yaml:"burst"`
	Every Duration `yaml:"every"`
}

// Keys returns ChannelKeys as a map from channel to key. Validate has
// checked that every entry has both.
func (c *IRC) Keys() map[string]string {
	keys := map[string]string{}
	for entry := range strings.SplitSeq(c.ChannelKeys.Reveal(), ",") {
		if ch, key, ok := strings.Cut(strings.TrimSpace(entry), "="); ok {
			keys[ch] = key
		}
	}
	return keys
}

// XMPP logs in to an XMPP server as a client and joins multi-user chat
// rooms. TLS with certificate verification is always on unless
// insecure_plaintext says otherwise.
type XMPP struct {
	// JID is the bot's account, a bare JID such as seipbot@example.com.
	JID      string `yaml:"jid"`
	Password Secret `yaml:"password"`
	// Address is the server's host:port; empty means the JID's domain on
	// port 5222 (5223 with direct_tls).
	Address string `yaml:"address"`
	// DirectTLS starts TLS at once rather than with STARTTLS.
	DirectTLS bool `yaml:"direct_tls"`
	// CAFile is a PEM file of CA certificates to trust instead of the
	// system's, for a server with a private CA.
	CAFile string `yaml:"ca_file"`
	// InsecurePlaintext connects without TLS (SCRAM only, never PLAIN):
	// only for a server on loopback or behind a tunnel.
	InsecurePlaintext bool `yaml:"insecure_plaintext"`
	// Nick is the bot's nickname in rooms; empty means name.
	Nick string `yaml:"nick"`
	// Rooms are the rooms to join; they come from the file only.
	Rooms []XMPPRoom `yaml:"rooms"`
	// MaxLength is the most bytes in one message; longer replies are
	// split. 0 means 4000.
	MaxLength int `yaml:"max_length"`
	// PingInterval is how often an idle connection is checked; 0 means 1m.
	PingInterval Duration `yaml:"ping_interval"`
}

// XMPPRoom is a MUC room to join, with its password if it has one.
type XMPPRoom struct {
	JID      string `yaml:"jid"`
	Password Secret `yaml:"password"`
}

// Matrix connects the bot to a Matrix homeserver.
type Matrix struct {
	// Homeserver is the client-server API's URL, such as
	// https://matrix.example.org; plain http only on loopback.
	Homeserver string `yaml:"homeserver"`
	// UserID is the bot's MXID, such as @seipbot:example.org. It is
	// required with password; with access_token it is checked if set.
	UserID string `yaml:"user_id"`
	// Password or AccessToken logs the bot in; set one.
	Password    Secret `yaml:"password"`
	AccessToken Secret `yaml:"access_token"`
	// DeviceID is the device a password login uses; empty reuses the one
	// in state_file.
	DeviceID string `yaml:"device_id"`
	// DisplayName, when set, becomes the bot's profile name.
	DisplayName string `yaml:"display_name"`
	// Rooms to join, by alias (#soc:example.org) or id (!abc:example.org).
	Rooms []string `yaml:"rooms"`
	// InviteFrom lists who may invite the bot to other rooms and direct
	// chats: users (@alice:example.org) or a whole server (*:example.org).
	InviteFrom []string `yaml:"invite_from"`
	// StateFile keeps the device id and sync position between runs; it
	// defaults to <data_dir>/matrix.json.
	StateFile string `yaml:"state_file"`
}

// Command is a canned command: when a user says Command, the bot answers
// Reply.
type Command struct {
	// Command is the words that trigger it, such as "runbook ddos".
	Command string `yaml:"command"`
	// Reply is a text/template.
	Reply string `yaml:"reply"`
	// Help is shown by the help command.
	Help string `yaml:"help"`
}

// Hear answers any message that matches Pattern.
type Hear struct {
	// Pattern is a Go (RE2) regular expression.
	Pattern string `yaml:"pattern"`
	// Reply is a text/template.
	Reply string `yaml:"reply"`
	// Help is shown by the help command.
	Help string `yaml:"help"`
}

// Schedule is a message the bot says on a schedule, such as a weekly
// reminder to review new advisories. With replicas, each tick is said
// once, by the replica leading the scheduler.
type Schedule struct {
	// Name identifies it in the store and the log; it must be unique.
	Name string `yaml:"name"`
	// Cron is a five-field cron spec ("0 9 * * 1-5") or "@every 1h", in
	// the bot's time zone.
	Cron string `yaml:"cron"`
	// Adapter is where to say it; empty means the first adapter.
	Adapter string `yaml:"adapter"`
	// Room is the room to say it in.
	Room string `yaml:"room"`
	// Say is a text/template; .Due is the tick it is said for, .Late true
	// when it is said late (the bot was down at the time).
	Say string `yaml:"say"`
}

// Defaults returns the configuration used when nothing else is set. Paths
// that depend on other settings are left empty here and filled by Load.
func Defaults() *Config {
	c := &Config{
		Name:           "seipbot",
		Prefix:         "!",
		Timezone:       "UTC",
		CommandTimeout: Duration(30 * time.Second),
		RateLimit:      RateLimit{PerMinute: 30, Burst: 10},
		Log:            Log{Level: "info", Format: "auto"},
		Store:          Store{Kind: "bolt", KeyPrefix: "seipbot:"},
		Plugins:        Plugins{Poll: Duration(5 * time.Second)},
		HTTP:           HTTP{ReadTimeout: Duration(10 * time.Second), WriteTimeout: Duration(10 * time.Second), MaxBodyBytes: 1 << 20},
		Alerts: Alerts{
			DedupWindow: Duration(time.Hour), GroupWindow: Duration(time.Minute), GroupMax: 3,
			Retention: Duration(7 * 24 * time.Hour),
		},
	}
	secopsDefaults(c)
	return c
}

// derivePaths fills the defaults that depend on other settings. getenv looks
// in the environment given to Load, never the process's own.
func (c *Config) derivePaths(getenv func(string) (string, bool)) {
	if c.DataDir == "" {
		// The XDG spec says to ignore a relative XDG_DATA_HOME.
		if xdg, _ := getenv("XDG_DATA_HOME"); filepath.IsAbs(xdg) {
			c.DataDir = filepath.Join(xdg, "seipbot")
		} else if home, _ := getenv("HOME"); home != "" {
			c.DataDir = filepath.Join(home, ".local", "share", "seipbot")
		}
	}
	if c.Store.Path == "" && c.DataDir != "" {
		c.Store.Path = filepath.Join(c.DataDir, "seipbot.db")
	}
	if m := c.Adapters.Matrix; m != nil && m.StateFile == "" && c.DataDir != "" {
		m.StateFile = filepath.Join(c.DataDir, "matrix.json")
	}
}

// Location returns the time zone named by Timezone. Validate has checked it
// loads; should it fail anyway, UTC is used.
func (c *Config) Location() *time.Location {
	loc, err := time.LoadLocation(c.Timezone)
	if err != nil {
		return time.UTC
	}
	return loc
}

// Redacted returns the effective configuration as YAML with every secret
// shown as [redacted], for `seipbot config print`.
func (c *Config) Redacted() ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(c); err != nil {
		return nil, fmt.Errorf("config: encode: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("config: encode: %w", err)
	}
	return buf.Bytes(), nil
}
