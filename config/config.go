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
	// Rooms, when not empty, are the only rooms the bot answers in.
	Rooms []string `yaml:"rooms"`
	// CommandTimeout bounds how long one command may run.
	CommandTimeout Duration  `yaml:"command_timeout"`
	RateLimit      RateLimit `yaml:"rate_limit"`
	Log            Log       `yaml:"log"`
	Store          Store     `yaml:"store"`
	Adapters       Adapters  `yaml:"adapters"`
	// Commands are canned replies, set only in the file.
	Commands []Command `yaml:"commands"`
	// Hears are replies to patterns heard in any message, set only in the
	// file.
	Hears []Hear `yaml:"hears"`
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
	Shell *Shell `yaml:"shell,omitempty"`
}

// Shell is the terminal adapter, for trying the bot locally.
type Shell struct {
	// User is who the terminal speaks as; empty means the login name.
	User string `yaml:"user"`
	// Room is the room the terminal is in; empty means the adapter's own.
	Room string `yaml:"room"`
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

// Defaults returns the configuration used when nothing else is set. Paths
// that depend on other settings are left empty here and filled by Load.
func Defaults() *Config {
	return &Config{
		Name:           "seipbot",
		Prefix:         "!",
		Timezone:       "UTC",
		CommandTimeout: Duration(30 * time.Second),
		RateLimit:      RateLimit{PerMinute: 30, Burst: 10},
		Log:            Log{Level: "info", Format: "auto"},
		Store:          Store{Kind: "bolt", KeyPrefix: "seipbot:"},
	}
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
