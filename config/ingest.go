package config

import (
	"fmt"
	"net"
	"slices"
	"strings"

	"github.com/seipbot/seipbot/template"
)

// HTTP configures the webhook server.
type HTTP struct {
	// Listen is host:port; empty runs no server.
	Listen string `yaml:"listen"`
	// TLSCert and TLSKey are PEM files; without them the server speaks
	// plain HTTP, for use behind a TLS-terminating proxy.
	TLSCert      string   `yaml:"tls_cert"`
	TLSKey       string   `yaml:"tls_key"`
	ReadTimeout  Duration `yaml:"read_timeout"`
	WriteTimeout Duration `yaml:"write_timeout"`
	// MaxBodyBytes bounds a webhook body; larger ones get 413.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
}

// Sources holds one optional entry per webhook sender, each served at
// /hooks/<name>. Like adapters, a source is on when its key is present or
// one of its variables is set.
type Sources struct {
	GitHub       *GitHubSource       `yaml:"github,omitempty"`
	GitLab       *GitLabSource       `yaml:"gitlab,omitempty"`
	Alertmanager *AlertmanagerSource `yaml:"alertmanager,omitempty"`
	SNS          *SNSSource          `yaml:"sns,omitempty"`
	Falco        *FalcoSource        `yaml:"falco,omitempty"`
	Generic      *GenericSource      `yaml:"generic,omitempty"`
}

// GitHubSource verifies X-Hub-Signature-256 with Secret.
type GitHubSource struct {
	Secret     Secret `yaml:"secret"`
	MaxCommits int    `yaml:"max_commits"`
	// ProtectedBranches are patterns such as release/*; the default
	// branch is always protected.
	ProtectedBranches []string `yaml:"protected_branches"`
}

// GitLabSource compares X-Gitlab-Token with Token.
type GitLabSource struct {
	Token             Secret   `yaml:"token"`
	MaxCommits        int      `yaml:"max_commits"`
	ProtectedBranches []string `yaml:"protected_branches"`
}

// AlertmanagerSource takes a bearer token, or a basic-auth pair.
type AlertmanagerSource struct {
	BearerToken Secret `yaml:"bearer_token"`
	Username    string `yaml:"username"`
	Password    Secret `yaml:"password"`
}

// SNSSource takes Amazon SNS deliveries for the listed topics.
type SNSSource struct {
	TopicARNs []string `yaml:"topic_arns"`
	// CertHosts, when set, replace the SNS host names
	// (sns.<region>.amazonaws.com) that certificates and subscription
	// confirmations may come from.
	CertHosts []string `yaml:"cert_hosts"`
	// TrustRoots is a PEM file of CA certificates to trust instead of the
	// system's.
	TrustRoots string   `yaml:"trust_roots"`
	MaxAge     Duration `yaml:"max_age"`
}

// FalcoSource takes falcosidekick's webhook with a bearer token.
type FalcoSource struct {
	Token  Secret   `yaml:"token"`
	Window Duration `yaml:"window"`
}

// GenericSource takes signed JSON from anything.
type GenericSource struct {
	Secret Secret   `yaml:"secret"`
	Window Duration `yaml:"window"`
	// Template renders an arbitrary JSON body; its first line is the
	// title.
	Template string `yaml:"template"`
}

// Alerts configures routing and the life of an alert.
type Alerts struct {
	DedupWindow Duration `yaml:"dedup_window"`
	// GroupWindow and GroupMax fold storms: GroupMax alerts of a group
	// per window are posted, the rest summed up in one message.
	GroupWindow Duration    `yaml:"group_window"`
	GroupMax    int         `yaml:"group_max"`
	Retention   Duration    `yaml:"retention"`
	Rules       []AlertRule `yaml:"rules,omitempty"`
}

// AlertRule routes the alerts it matches to rooms; the first matching rule
// decides unless it says continue.
type AlertRule struct {
	Sources     []string `yaml:"sources"`
	MinSeverity string   `yaml:"min_severity"`
	// Match is comma-separated key=value, key!=value or key=~regexp over
	// labels and the fields source, severity, repository and title.
	Match         string      `yaml:"match"`
	Repositories  []string    `yaml:"repositories"`
	Rooms         []AlertRoom `yaml:"rooms"`
	EscalateAfter Duration    `yaml:"escalate_after"`
	EscalateTo    *AlertRoom  `yaml:"escalate_to"`
	Continue      bool        `yaml:"continue"`
}

// AlertRoom is a room and, optionally, how alerts are written there.
type AlertRoom struct {
	Adapter  string `yaml:"adapter"`
	Room     string `yaml:"room"`
	Template string `yaml:"template"`
}

// Severities are the values min_severity takes.
var Severities = []string{"info", "low", "medium", "high", "critical"}

func (c *Config) validateIngest(bad func(string, ...any)) {
	h := c.HTTP
	if h.Listen != "" {
		if _, _, err := net.SplitHostPort(h.Listen); err != nil {
			bad("http.listen: %q is not host:port; use something like :8080 or 127.0.0.1:8080", h.Listen)
		}
	}
	if (h.TLSCert == "") != (h.TLSKey == "") {
		bad("http.tls_cert, http.tls_key: set both or neither")
	}
	if h.ReadTimeout <= 0 || h.WriteTimeout <= 0 {
		bad("http.read_timeout, http.write_timeout: must be positive; use a duration such as 10s")
	}
	if h.MaxBodyBytes <= 0 {
		bad("http.max_body_bytes: %d is not positive; use a size in bytes such as 1048576", h.MaxBodyBytes)
	}
	s := c.Sources
	needs := func(on bool, path string, value Secret) {
		if on && value == "" {
			bad("%s: is empty; every webhook must be verified, so set it (or its _FILE variable)", path)
		}
	}
	needs(s.GitHub != nil, "sources.github.secret", s.GitHub.secret())
	needs(s.GitLab != nil, "sources.gitlab.token", s.GitLab.token())
	needs(s.Falco != nil, "sources.falco.token", s.Falco.token())
	needs(s.Generic != nil, "sources.generic.secret", s.Generic.secret())
	if am := s.Alertmanager; am != nil && am.BearerToken == "" && (am.Username == "" || am.Password == "") {
		bad("sources.alertmanager: set bearer_token, or username and password")
	}
	if s.SNS != nil && len(s.SNS.TopicARNs) == 0 {
		bad("sources.sns.topic_arns: is empty; list the topics whose subscriptions may be confirmed")
	}
	if g := s.Generic; g != nil && g.Template != "" {
		if _, err := template.New("generic").Parse(g.Template); err != nil {
			bad("sources.generic.template: %v", err)
		}
	}
	if c.Alerts.DedupWindow < 0 || c.Alerts.GroupWindow < 0 || c.Alerts.Retention <= 0 {
		bad("alerts: dedup_window and group_window must not be negative and retention must be positive")
	}
	for i, r := range c.Alerts.Rules {
		path := fmt.Sprintf("alerts.rules[%d]", i)
		if r.MinSeverity != "" && !slices.Contains(Severities, r.MinSeverity) {
			bad("%s.min_severity: %q is not a severity; use %s", path, r.MinSeverity, strings.Join(Severities, ", "))
		}
		if len(r.Rooms) == 0 {
			bad("%s.rooms: is empty; name at least one room", path)
		}
		rooms := r.Rooms
		if r.EscalateTo != nil {
			rooms = append(rooms[:len(rooms):len(rooms)], *r.EscalateTo)
		}
		for j, room := range rooms {
			at := fmt.Sprintf("%s.rooms[%d]", path, j)
			if j == len(r.Rooms) {
				at = path + ".escalate_to"
			}
			if strings.TrimSpace(room.Room) == "" {
				bad("%s.room: is empty; name a room", at)
			}
			if _, err := template.New("room").Parse(room.Template); err != nil {
				bad("%s.template: %v", at, err)
			}
		}
		if (r.EscalateAfter > 0) != (r.EscalateTo != nil) {
			bad("%s: set escalate_after and escalate_to together", path)
		}
	}
}

// The accessors below read a secret of a source that may be off.

func (g *GitHubSource) secret() Secret {
	if g == nil {
		return ""
	}
	return g.Secret
}

func (g *GitLabSource) token() Secret {
	if g == nil {
		return ""
	}
	return g.Token
}

func (f *FalcoSource) token() Secret {
	if f == nil {
		return ""
	}
	return f.Token
}

func (g *GenericSource) secret() Secret {
	if g == nil {
		return ""
	}
	return g.Secret
}
