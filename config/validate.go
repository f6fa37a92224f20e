package config

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"text/template"
	"time"
	"unicode"
)

var (
	logLevels  = []string{"debug", "info", "warn", "error"}
	logFormats = []string{"auto", "text", "json"}
)

// Validate reports every problem in c, one sentence each naming the key and
// what to do, joined with errors.Join. It never changes c.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf(format, args...))
	}

	switch {
	case c.Name == "":
		bad("name: is empty; set the name the bot answers to, such as seipbot")
	case strings.ContainsFunc(c.Name, unicode.IsSpace):
		bad("name: %q contains spaces, so no one could mention it; use one word such as %q",
			c.Name, strings.Join(strings.Fields(c.Name), "-"))
	}
	if _, err := time.LoadLocation(c.Timezone); err != nil {
		bad("timezone: %q is not a known time zone; use an IANA name such as UTC or Europe/Berlin", c.Timezone)
	}
	for i, room := range c.Rooms {
		if strings.TrimSpace(room) == "" {
			bad("rooms[%d]: is empty; remove it or name a room", i)
		}
	}
	if c.CommandTimeout <= 0 {
		bad("command_timeout: %s is not positive; use a duration such as 30s", c.CommandTimeout)
	}
	if c.RateLimit.PerMinute < 0 {
		bad("rate_limit.per_minute: %d is negative; use 0 to turn the limit off or a positive number", c.RateLimit.PerMinute)
	}
	if c.RateLimit.Burst < 0 {
		bad("rate_limit.burst: %d is negative; use 0 to turn bursts off or a positive number", c.RateLimit.Burst)
	}
	if !slices.Contains(logLevels, c.Log.Level) {
		bad("log.level: %q is not a log level; use debug, info, warn or error", c.Log.Level)
	}
	if !slices.Contains(logFormats, c.Log.Format) {
		bad("log.format: %q is not a log format; use auto, text or json", c.Log.Format)
	}
	switch c.Store.Kind {
	case "bolt":
		if c.Store.Path == "" {
			bad("store.path: is empty and has no default because data_dir is empty and neither XDG_DATA_HOME nor HOME is set; set store.path or data_dir")
		}
	case "memory":
	case "redis":
		errs = append(errs, c.Store.validateRedis()...)
	default:
		bad("store.kind: %q is not a store kind; use bolt, memory or redis", c.Store.Kind)
	}

	firstUse := make(map[string]int)
	for i, cmd := range c.Commands {
		path := fmt.Sprintf("commands[%d]", i)
		// Compare words as a user types them: extra spaces do not make a
		// different command.
		words := strings.Join(strings.Fields(cmd.Command), " ")
		if words == "" {
			bad("%s.command: is empty; set the words that run it, such as \"runbook ddos\"", path)
		} else if first, ok := firstUse[words]; ok {
			bad("%s.command: %q is already defined by commands[%d]; remove or rename one", path, words, first)
		} else {
			firstUse[words] = i
		}
		if err := checkReply(cmd.Reply); err != nil {
			bad("%s.reply: %w", path, err)
		}
	}
	for i, hear := range c.Hears {
		path := fmt.Sprintf("hears[%d]", i)
		if hear.Pattern == "" {
			bad("%s.pattern: is empty, which would match every message; set a regular expression", path)
		} else if _, err := regexp.Compile(hear.Pattern); err != nil {
			bad("%s.pattern: %v; write it in Go's RE2 syntax, which has no lookaround or backreferences", path, err)
		}
		if err := checkReply(hear.Reply); err != nil {
			bad("%s.reply: %w", path, err)
		}
	}
	return errors.Join(errs...)
}

// validateRedis checks the settings of kind redis.
func (s *Store) validateRedis() []error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf(format, args...))
	}
	u, err := url.Parse(s.URL)
	switch {
	case s.URL == "":
		bad("store.url: is empty; set it to the Redis server, such as redis://127.0.0.1:6379/0")
	case err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "":
		// The URL is not quoted: it may hold a password.
		bad("store.url: is not of the form redis://host:port/db or rediss://host:port/db")
	default:
		if _, ok := u.User.Password(); ok {
			bad("store.url: holds a password, which would show wherever the URL is printed; remove it and set store.password (or SEIPBOT_STORE_PASSWORD_FILE)")
		}
	}
	if (s.TLS.CertFile == "") != (s.TLS.KeyFile == "") {
		bad("store.tls: cert_file and key_file go together; set both or neither")
	}
	return errs
}

// checkReply checks that a reply is set and parses as a text/template, so a
// broken template fails at start-up rather than when someone needs it.
func checkReply(reply string) error {
	if strings.TrimSpace(reply) == "" {
		return errors.New("is empty; set the text to answer with")
	}
	if _, err := template.New("reply").Parse(reply); err != nil {
		return fmt.Errorf("%v; fix the template (see the text/template syntax)", err)
	}
	return nil
}
