package config

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/seipbot/seipbot/schedule"
	"github.com/seipbot/seipbot/template"
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

	if c.SecretKeyProvider != nil {
		if c.SecretKey != "" {
			bad("secret_key: is set together with secret_key_provider, so the keyring would have two sources; remove one (SEIPBOT_SECRET_KEY and SEIPBOT_SECRET_KEY_FILE set secret_key too)")
		}
		errs = append(errs, c.SecretKeyProvider.validate()...)
	}
	if c.Adapters.IRC != nil {
		errs = append(errs, c.Adapters.IRC.validate()...)
	}
	if c.Adapters.Matrix != nil {
		errs = append(errs, c.Adapters.Matrix.validate()...)
	}
	if c.Adapters.Mattermost != nil {
		errs = append(errs, c.Adapters.Mattermost.validate()...)
	}
	c.validateIngest(bad)

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
	c.validateSchedules(bad)
	if c.Adapters.Slack != nil {
		errs = append(errs, c.Adapters.Slack.validate()...)
	}
	if c.Access != nil {
		errs = append(errs, c.Access.validate()...)
	}
	if c.Plugins.Poll < 0 {
		bad("plugins.poll: %s is negative; use 0s to reload only on \"plugins reload\", or a duration such as 5s", c.Plugins.Poll)
	}
	if c.Plugins.Dir == "" && c.Plugins.AdminRoom != "" {
		bad("plugins.admin_room: is set but plugins.dir is empty; set the plugins folder or remove admin_room")
	}
	c.validateSecops(bad)
	if c.Adapters.XMPP != nil {
		errs = append(errs, c.Adapters.XMPP.validate()...)
	}
	return errors.Join(errs...)
}

// bareJID is local@domain without a resource, as accounts and rooms are
// written.
var bareJID = regexp.MustCompile(`^[^@/\s]+@[^@/\s]+$`)

func (x *XMPP) validate() []error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("adapters.xmpp."+format, args...))
	}
	switch {
	case x.JID == "":
		bad("jid: is empty; set the bot's account, such as seipbot@example.com")
	case !bareJID.MatchString(x.JID):
		bad("jid: %q is not a bare JID; write the account as user@domain, such as seipbot@example.com", x.JID)
	}
	if x.Password == "" {
		bad("password: is empty; set it here or in SEIPBOT_ADAPTERS_XMPP_PASSWORD_FILE")
	}
	if x.Address != "" {
		if _, port, err := net.SplitHostPort(x.Address); err != nil || port == "" {
			bad("address: %q is not host:port; write it as xmpp.example.com:5222, or leave it empty to use the JID's domain", x.Address)
		}
	}
	if x.InsecurePlaintext && x.DirectTLS {
		bad("insecure_plaintext: cannot be on with direct_tls; turn one off")
	}
	if x.InsecurePlaintext && x.CAFile != "" {
		bad("ca_file: has no use without TLS; remove it or turn insecure_plaintext off")
	}
	seen := make(map[string]int)
	for i, r := range x.Rooms {
		switch first, dup := seen[r.JID]; {
		case r.JID == "":
			bad("rooms[%d].jid: is empty; set the room, such as soc@conference.example.com", i)
		case !bareJID.MatchString(r.JID):
			bad("rooms[%d].jid: %q is not a room JID; write it as room@service, such as soc@conference.example.com", i, r.JID)
		case dup:
			bad("rooms[%d].jid: %q is already listed as rooms[%d]; remove one", i, r.JID, first)
		default:
			seen[r.JID] = i
		}
	}
	if x.MaxLength < 0 || x.MaxLength > 0 && x.MaxLength < 64 {
		bad("max_length: %d is too small to hold a line; use 0 for the default or at least 64", x.MaxLength)
	}
	if x.PingInterval < 0 {
		bad("ping_interval: %s is negative; use 0 for the default or a duration such as 1m", x.PingInterval)
	}
	return errs
}

// permissionPattern is a permission or a pattern of them: dot-separated
// lower-case words, optionally ending in ".*", or "*" alone. The access
// package reads the same form.
var permissionPattern = regexp.MustCompile(`^(\*|[a-z0-9_-]+(\.[a-z0-9_-]+)*(\.\*)?)$`)

// identityForm is a platform id such as "slack:U024BE7LH" or "shell:alice".
var identityForm = regexp.MustCompile(`^[a-z][a-z0-9_-]*:\S+$`)

const patternHelp = `use dot-separated lower-case words such as "scan.ports", a trailing ".*" such as "scan.*", or "*"`

// validate reports every mistake in the access policy, in the order of the
// file; names in maps are visited sorted so the report is stable.
func (a *Access) validate() []error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf(format, args...))
	}
	for _, g := range slices.Sorted(maps.Keys(a.Groups)) {
		if len(a.Groups[g]) == 0 {
			bad("access.groups.%s: is empty; list its members or remove it", g)
		}
		for i, id := range a.Groups[g] {
			if !identityForm.MatchString(id) {
				bad("access.groups.%s[%d]: %q is not an identity; write the platform and its user id, such as slack:U024BE7LH or shell:alice", g, i, id)
			}
		}
	}
	for _, r := range slices.Sorted(maps.Keys(a.Roles)) {
		if len(a.Roles[r].Permissions) == 0 {
			bad("access.roles.%s.permissions: is empty, so the role grants nothing; list its permissions", r)
		}
		for i, p := range a.Roles[r].Permissions {
			if !permissionPattern.MatchString(p) {
				bad("access.roles.%s.permissions[%d]: %q is malformed; %s", r, i, p, patternHelp)
			}
		}
	}
	for i, g := range a.Grants {
		path := fmt.Sprintf("access.grants[%d]", i)
		switch {
		case g.Group == "" && g.Identity == "":
			bad("%s: grants role %q to nobody; set group or identity", path, g.Role)
		case g.Group != "" && g.Identity != "":
			bad("%s: sets both group and identity; write one grant for each", path)
		case g.Group != "" && a.Groups[g.Group] == nil:
			bad("%s.group: %q is not defined under access.groups", path, g.Group)
		case g.Identity != "" && !identityForm.MatchString(g.Identity):
			bad("%s.identity: %q is not an identity; write the platform and its user id, such as slack:U024BE7LH", path, g.Identity)
		}
		if _, ok := a.Roles[g.Role]; !ok {
			bad("%s.role: %q is not defined under access.roles", path, g.Role)
		}
		for j, room := range g.Rooms {
			if strings.TrimSpace(room) == "" {
				bad("%s.rooms[%d]: is empty; remove it or name a room", path, j)
			}
		}
		for _, arg := range slices.Sorted(maps.Keys(g.Args)) {
			if len(g.Args[arg]) == 0 {
				bad("%s.args.%s: is empty, so the grant could never apply; list the allowed values or remove it", path, arg)
			}
		}
	}
	for i, ap := range a.Approvals {
		path := fmt.Sprintf("access.approvals[%d]", i)
		if !permissionPattern.MatchString(ap.Permission) {
			bad("%s.permission: %q is malformed; %s", path, ap.Permission, patternHelp)
		}
		if ap.Approvals < 1 {
			bad("%s.approvals: %d; at least one person must approve", path, ap.Approvals)
		}
		if _, ok := a.Roles[ap.Approvers]; !ok {
			bad("%s.approvers: %q is not defined under access.roles; name the role whose holders approve", path, ap.Approvers)
		}
		if ap.Expires < 0 {
			bad("%s.expires: %s is negative; leave it out for 15m or use a duration such as 30m", path, ap.Expires)
		}
	}
	for i, l := range a.RateLimits {
		path := fmt.Sprintf("access.rate_limits[%d]", i)
		if !permissionPattern.MatchString(l.Permission) {
			bad("%s.permission: %q is malformed; %s", path, l.Permission, patternHelp)
		}
		if l.PerMinute < 1 {
			bad("%s.per_minute: %d; use a positive number", path, l.PerMinute)
		}
		if l.Burst < 0 {
			bad("%s.burst: %d is negative; use 0 or 1 for no bursts", path, l.Burst)
		}
	}
	for i, n := range a.Notifications {
		path := fmt.Sprintf("access.notifications[%d]", i)
		if len(n.Rooms) == 0 {
			bad("%s.rooms: is empty, so the rule lets no room receive anything; list its rooms or remove it", path)
		}
		for j, room := range n.Rooms {
			if strings.TrimSpace(room) == "" {
				bad("%s.rooms[%d]: is empty; remove it or name a room", path, j)
			}
		}
		if len(n.Allow) == 0 {
			bad("%s.allow: is empty, so the rule lets the rooms receive nothing; list topics such as \"alerts.*\" or \"jobs.results\"", path)
		}
		for j, t := range n.Allow {
			if !permissionPattern.MatchString(t) {
				bad("%s.allow[%d]: %q is malformed; use a topic such as \"alerts.github\", a trailing \".*\" such as \"alerts.*\", or \"*\"", path, j, t)
			}
		}
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

func (p *SecretKeyProvider) validate() []error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("secret_key_provider."+format, args...))
	}
	if p.Kind != "aws-kms" {
		bad("kind: %q is not a key provider; use aws-kms", p.Kind)
	}
	if p.KeyID == "" {
		bad("key_id: is empty; set the KMS key, such as alias/seipbot or its ARN")
	}
	if p.Endpoint != "" {
		if u, err := url.Parse(p.Endpoint); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			bad("endpoint: %q is not a URL; set it such as https://vpce-0123-abcd.kms.eu-central-1.vpce.amazonaws.com, or leave it empty for KMS's own", p.Endpoint)
		}
	}
	if p.KeyringFile == "" {
		bad("keyring_file: is empty; set the file that holds the sealed keyring, such as /data/keyring.kms.json")
	}
	return errs
}

var ircAuths = []string{"", "sasl-plain", "sasl-external", "nickserv"}

func (c *IRC) validate() []error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("adapters.irc."+format, args...))
	}
	if _, port, err := net.SplitHostPort(c.Server); err != nil || port == "" {
		bad("server: %q is not host:port; set it, such as irc.libera.chat:6697", c.Server)
	}
	if strings.ContainsAny(c.Nick, " ,:!@#\r\n") || strings.HasPrefix(c.Nick, "~") {
		bad("nick: %q is not a valid IRC nick; use letters, digits and -_[]{}|", c.Nick)
	}
	switch {
	case !slices.Contains(ircAuths, c.Auth):
		bad("auth: %q is not an auth method; use sasl-plain, sasl-external, nickserv or leave it empty", c.Auth)
	case (c.Auth == "sasl-plain" || c.Auth == "nickserv") && c.Password == "":
		bad("password: is empty but auth is %s; set it (or SEIPBOT_ADAPTERS_IRC_PASSWORD_FILE)", c.Auth)
	case c.Auth == "sasl-external" && c.CertFile == "":
		bad("cert_file: is empty but auth is sasl-external, which logs in with the client certificate; set cert_file and key_file")
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		bad("key_file: cert_file and key_file go together; set both or neither")
	}
	if c.Insecure && (c.CertFile != "" || c.CAFile != "") {
		bad("insecure: is set, so cert_file and ca_file would be unused; remove insecure to use TLS")
	}
	for i, ch := range c.Channels {
		if ch == "" || !strings.ContainsRune("#&+!", rune(ch[0])) || strings.ContainsAny(ch, " ,\a") {
			bad("channels[%d]: %q is not a channel name; channels start with # (or &, +, !) and have no spaces or commas", i, ch)
		}
	}
	if c.ChannelKeys != "" {
		for entry := range strings.SplitSeq(c.ChannelKeys.Reveal(), ",") {
			ch, key, ok := strings.Cut(strings.TrimSpace(entry), "=")
			if !ok || key == "" || !slices.Contains(c.Channels, ch) {
				// The entry is not printed: it holds a key.
				bad("channel_keys: each entry must be #channel=key for a channel listed under channels")
				break
			}
		}
	}
	if c.Pace.Burst < 0 || c.Pace.Every < 0 {
		bad("pace: burst and every must not be negative; use 0 for the defaults")
	}
	return errs
}

// validate checks the Slack section. Token values are never quoted back:
// only whether each is set and of the right kind.
func (s *Slack) validate() []error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf(format, args...))
	}
	token := func(key string, v Secret, prefix, what string) {
		switch {
		case v == "":
			bad("adapters.slack.%s: is empty; set SEIPBOT_ADAPTERS_SLACK_%s or SEIPBOT_ADAPTERS_SLACK_%[2]s_FILE to the app's %s", key, strings.ToUpper(key), what)
		case !strings.HasPrefix(v.Reveal(), prefix):
			bad("adapters.slack.%s: is not a Slack %s; copy it again from the app's settings", key, what)
		}
	}
	token("bot_token", s.BotToken, "xoxb-", "bot user OAuth token")
	switch s.Mode {
	case "", "socket":
		token("app_token", s.AppToken, "xapp-", "app-level token")
	case "http":
		if s.SigningSecret == "" {
			bad("adapters.slack.signing_secret: is empty; http mode needs the app's signing secret to check Slack's requests")
		}
		if s.Listen == "" {
			bad("adapters.slack.listen: is empty; set the address http mode serves on, such as :3000")
		}
	default:
		bad("adapters.slack.mode: %q is not a mode; use socket or http", s.Mode)
	}
	if s.APIURL != "" {
		if u, err := url.Parse(s.APIURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			bad("adapters.slack.api_url: %q is not an http(s) URL; set it such as https://slack-proxy.example.com/api/, or leave it empty for Slack's own", s.APIURL)
		}
	}
	return errs
}

func (c *Mattermost) validate() []error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("adapters.mattermost."+format, args...))
	}
	u, err := url.Parse(c.URL)
	switch {
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
		bad("url: %q is not the server's address; set it, such as https://chat.example.com", c.URL)
	case u.Scheme == "http" && !c.Insecure && !loopback(u.Hostname()):
		bad("url: %q would send the token in the clear; use https, or set insecure inside a private network", c.URL)
	}
	if c.Token == "" {
		bad("token: is empty; set the bot account's access token (or SEIPBOT_ADAPTERS_MATTERMOST_TOKEN_FILE)")
	}
	if c.ActionURL != "" {
		if u, err := url.Parse(c.ActionURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			bad("action_url: %q is not an http(s) address; set where Mattermost reaches action_listen, such as http://seipbot:8066/mattermost/actions", c.ActionURL)
		}
	}
	if c.ActionListen != "" {
		if _, port, err := net.SplitHostPort(c.ActionListen); err != nil || port == "" {
			bad("action_listen: %q is not host:port; set it, such as :8066", c.ActionListen)
		}
		if c.ActionURL == "" {
			bad("action_url: is empty but action_listen is set; set the address at which Mattermost reaches it")
		}
	}
	if c.ActionSecret != "" && c.ActionURL == "" {
		bad("action_secret: is set but action_url is empty, so no buttons are offered; set action_url or remove action_secret")
	}
	if c.MaxParts < 0 {
		bad("max_parts: %d is negative; use 0 for the default of 8 or a positive number", c.MaxParts)
	}
	return errs
}

// loopback reports whether host names this machine.
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
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

// mxid matches a Matrix user id, "@localpart:server".
var mxid = regexp.MustCompile(`^@[a-z0-9._=/+-]+:[A-Za-z0-9.:\[\]-]+$`)

func (c *Matrix) validate() []error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("adapters.matrix."+format, args...))
	}
	u, err := url.Parse(c.Homeserver)
	switch {
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
		bad("homeserver: %q is not a URL; set it, such as https://matrix.example.org", c.Homeserver)
	case u.Scheme == "http" && !loopback(u.Hostname()):
		bad("homeserver: %q is plain http, which would send the bot's password or token in the clear; use https", c.Homeserver)
	}
	switch {
	case c.Password == "" && c.AccessToken == "":
		bad("password: neither password nor access_token is set; set one (or SEIPBOT_ADAPTERS_MATRIX_PASSWORD_FILE)")
	case c.Password != "" && c.AccessToken != "":
		bad("access_token: both password and access_token are set; keep one")
	case c.Password != "" && c.UserID == "":
		bad("user_id: is empty but a password login needs it; set it, such as @seipbot:example.org")
	}
	if c.UserID != "" && !mxid.MatchString(c.UserID) {
		bad("user_id: %q is not a Matrix user id; write it as @localpart:server", c.UserID)
	}
	for i, r := range c.Rooms {
		if len(r) < 4 || (r[0] != '#' && r[0] != '!') || !strings.Contains(r, ":") || strings.ContainsAny(r, " \r\n") {
			bad("rooms[%d]: %q is not a room alias or id; write #name:server or !id:server", i, r)
		}
	}
	for i, who := range c.InviteFrom {
		server, isServer := strings.CutPrefix(who, "*:")
		if !mxid.MatchString(who) && !(isServer && mxid.MatchString("@x:"+server)) {
			bad("invite_from[%d]: %q is neither a user (@alice:example.org) nor a server (*:example.org)", i, who)
		}
	}
	if c.StateFile == "" {
		bad("state_file: is empty and has no default because data_dir is empty; set state_file or data_dir")
	}
	return errs
}

func (c *Config) validateSchedules(bad func(string, ...any)) {
	names := map[string]int{}
	for i, s := range c.Schedules {
		path := fmt.Sprintf("schedules[%d]", i)
		switch first, dup := names[s.Name]; {
		case s.Name == "":
			bad("%s.name: is empty; name it, such as advisory-review", path)
		case strings.ContainsAny(s.Name, "/: "):
			bad("%s.name: %q holds a slash, colon or space; use letters, digits and dashes", path, s.Name)
		case dup:
			bad("%s.name: %q is already used by schedules[%d]; rename one", path, s.Name, first)
		default:
			names[s.Name] = i
		}
		if _, err := schedule.ParseSpec(s.Cron); err != nil {
			bad("%s.cron: %v", path, err)
		}
		if s.Room == "" {
			bad("%s.room: is empty; set the room to say it in", path)
		}
		if err := checkReply(s.Say); err != nil {
			bad("%s.say: %w", path, err)
		} else if err := template.Must(template.New("say").Parse(s.Say)).Execute(io.Discard, schedule.Run{}); err != nil {
			// Run is all the template is ever given: what fails on it now
			// would fail at every tick.
			bad("%s.say: %v; use only .Due and .Late", path, err)
		}
	}
}
