package config

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestEnvOverrides(t *testing.T) {
	valid := filepath.Join("testdata", "valid.yaml") // sets log.source: true, among others
	tests := []struct {
		name  string
		file  string
		env   []string
		check func(*Config) bool
	}{
		{"string", "", []string{"SEIPBOT_NAME=secbot"}, func(c *Config) bool { return c.Name == "secbot" }},
		{"empty string disables the prefix", "", []string{"SEIPBOT_PREFIX="}, func(c *Config) bool { return c.Prefix == "" }},
		{"nested", "", []string{"SEIPBOT_STORE_KIND=memory"}, func(c *Config) bool { return c.Store.Kind == "memory" }},
		{"int", "", []string{"SEIPBOT_RATE_LIMIT_PER_MINUTE=7"}, func(c *Config) bool { return c.RateLimit.PerMinute == 7 }},
		{"zero int", "", []string{"SEIPBOT_RATE_LIMIT_BURST=0"}, func(c *Config) bool { return c.RateLimit.Burst == 0 }},
		{"false overrides the file's true", valid, []string{"SEIPBOT_LOG_SOURCE=false"}, func(c *Config) bool { return !c.Log.Source }},
		{"bool", "", []string{"SEIPBOT_LOG_SOURCE=1"}, func(c *Config) bool { return c.Log.Source }},
		{"duration", "", []string{"SEIPBOT_COMMAND_TIMEOUT=2m"}, func(c *Config) bool { return time.Duration(c.CommandTimeout) == 2*time.Minute }},
		{"list", valid, []string{"SEIPBOT_ROOMS= #a, #b ,,"}, func(c *Config) bool { return slices.Equal(c.Rooms, []string{"#a", "#b"}) }},
		{"empty list means every room", valid, []string{"SEIPBOT_ROOMS="}, func(c *Config) bool { return len(c.Rooms) == 0 }},
		{"later entry wins", "", []string{"SEIPBOT_NAME=one", "SEIPBOT_NAME=two"}, func(c *Config) bool { return c.Name == "two" }},
		{"secret", "", []string{"SEIPBOT_SECRET_KEY=k1,k2"}, func(c *Config) bool { return c.SecretKey.Reveal() == "k1,k2" }},
		{"adapter switched on by its variable", "", []string{"SEIPBOT_ADAPTERS_SHELL_USER=bob"},
			func(c *Config) bool { return c.Adapters.Shell != nil && c.Adapters.Shell.User == "bob" }},
		{"adapter keeps the file's other settings", valid, []string{"SEIPBOT_ADAPTERS_SHELL_ROOM=#ir"},
			func(c *Config) bool { return *c.Adapters.Shell == Shell{User: "alice", Room: "#ir"} }},
		{"key provider from variables alone", "", []string{
			"SEIPBOT_SECRET_KEY_PROVIDER_KIND=aws-kms", "SEIPBOT_SECRET_KEY_PROVIDER_KEY_ID=alias/seipbot",
			"SEIPBOT_SECRET_KEY_PROVIDER_KEYRING_FILE=/data/keyring.kms.json",
		}, func(c *Config) bool {
			return *c.SecretKeyProvider == SecretKeyProvider{Kind: "aws-kms", KeyID: "alias/seipbot", KeyringFile: "/data/keyring.kms.json"} && c.SecretKey == ""
		}},
		{"adapter stays off without variables", "", []string{"SEIPBOT_NAME=x"}, func(c *Config) bool { return c.Adapters.Shell == nil }},
		{"xmpp from the environment, rooms from the file", valid, []string{"SEIPBOT_ADAPTERS_XMPP_PASSWORD=s3cret", "SEIPBOT_ADAPTERS_XMPP_DIRECT_TLS=true"},
			func(c *Config) bool {
				x := c.Adapters.XMPP
				return x.Password.Reveal() == "s3cret" && x.DirectTLS && x.JID == "seipbot@example.com" && len(x.Rooms) == 2
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Load(tt.file, append([]string{"HOME=/home/tester"}, tt.env...))
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(cfg) {
				t.Errorf("with %q got %+v", tt.env, cfg)
			}
		})
	}
}

func TestEnvErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "absent")
	tests := []struct {
		name string
		env  []string
		want []string // each a line of the error
	}{
		{"bad values, all reported", []string{
			"SEIPBOT_RATE_LIMIT_PER_MINUTE=lots",
			"SEIPBOT_LOG_SOURCE=maybe",
			"SEIPBOT_COMMAND_TIMEOUT=30",
		}, []string{
			`SEIPBOT_COMMAND_TIMEOUT: want a duration such as 30s or 15m, got "30"`,
			`SEIPBOT_RATE_LIMIT_PER_MINUTE: want a whole number, got "lots"`,
			`SEIPBOT_LOG_SOURCE: want true or false, got "maybe"`,
		}},
		{"secret and its file both set", []string{
			"SEIPBOT_SECRET_KEY=k1",
			"SEIPBOT_SECRET_KEY_FILE=/run/secrets/key",
		}, []string{
			"SEIPBOT_SECRET_KEY and SEIPBOT_SECRET_KEY_FILE are both set; unset one of them",
		}},
		{"unreadable secret file", []string{"SEIPBOT_SECRET_KEY_FILE=" + missing}, []string{
			"SEIPBOT_SECRET_KEY_FILE: open " + missing + ": no such file or directory; point it at a readable file",
		}},
		{"invalid value found by Validate", []string{"SEIPBOT_STORE_KIND=mysql"}, []string{
			`store.kind: "mysql" is not a store kind; use bolt, memory or redis`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load("", append([]string{"HOME=/home/tester"}, tt.env...))
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			if got := strings.Split(err.Error(), "\n"); !slices.Equal(got, tt.want) {
				t.Errorf("error lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestSecretFromFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(path, []byte(secretValue+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load("", []string{"HOME=/home/tester", "SEIPBOT_SECRET_KEY_FILE=" + path})
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.SecretKey.Reveal(); got != secretValue {
		t.Errorf("secret from file = %q, want %q without the newline", got, secretValue)
	}
}

// TestSlackFromEnvironment turns the Slack adapter on from its variables
// alone, with the bot token from a mounted secret file, as a container
// deployment would.
func TestSlackFromEnvironment(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bot_token")
	if err := os.WriteFile(path, []byte("xoxb-1-2-abc\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load("", []string{"HOME=/home/tester", "SEIPBOT_ADAPTERS_SLACK_BOT_TOKEN_FILE=" + path, "SEIPBOT_ADAPTERS_SLACK_APP_TOKEN=xapp-1-def"})
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Adapters.Slack
	if s == nil || s.BotToken.Reveal() != "xoxb-1-2-abc" || s.AppToken.Reveal() != "xapp-1-def" || s.Mode != "" {
		t.Errorf("adapters.slack = %#v, want both tokens set and the default mode", s)
	}
}

// TestEnvNames lists every variable Load reads in a golden file, which
// documents them for deployments and catches two keys that would map to the
// same variable (say a top-level log_level beside log.level).
func TestEnvNames(t *testing.T) {
	var names []string
	record := func(name string) (string, bool) {
		names = append(names, name)
		return "", false
	}
	if _, err := applyEnv(reflect.ValueOf(Defaults()).Elem(), envPrefix, record); err != nil {
		t.Fatal(err)
	}
	seen := make(map[string]bool)
	for _, name := range names {
		if seen[name] {
			t.Errorf("two settings read %s", name)
		}
		seen[name] = true
	}
	golden(t, "env_names", []byte(strings.Join(names, "\n")+"\n"))
}
