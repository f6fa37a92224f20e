package ingest

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/seipbot/seipbot/alert"
)

// GitHub receives repository and organization webhooks signed with
// X-Hub-Signature-256.
type GitHub struct {
	Secret string
	// MaxCommits is how many commits a push message lists. Default 5.
	MaxCommits int
	// Protected are branch patterns (path.Match) whose pushes are flagged;
	// the repository's default branch always is.
	Protected []string
}

// Name returns "github".
func (g *GitHub) Name() string { return "github" }

// ReplayWindow is a day: GitHub signs no timestamp, so a captured delivery
// is refused by its id.
func (g *GitHub) ReplayWindow() time.Duration { return 24 * time.Hour }

// Verify checks the HMAC of the body.
func (g *GitHub) Verify(r *http.Request, body []byte) (string, error) {
	return r.Header.Get("X-GitHub-Delivery"), checkHMAC(g.Secret, r.Header.Get("X-Hub-Signature-256"), body)
}

// ghRepo and the types below hold the fields of GitHub's payloads the bot
// uses.
type ghRepo struct {
	FullName      string `json:"full_name"`
	HTMLURL       string `json:"html_url"`
	DefaultBranch string `json:"default_branch"`
}

type ghUser struct {
	Login string `json:"login"`
}

type ghPush struct {
	Ref     string `json:"ref"`
	Created bool   `json:"created"`
	Deleted bool   `json:"deleted"`
	Forced  bool   `json:"forced"`
	Compare string `json:"compare"`
	Commits []struct {
		ID      string `json:"id"`
		Message string `json:"message"`
		URL     string `json:"url"`
		Author  struct {
			Name     string `json:"name"`
			Username string `json:"username"`
		} `json:"author"`
	} `json:"commits"`
	Repository ghRepo `json:"repository"`
	Pusher     struct {
		Name string `json:"name"`
	} `json:"pusher"`
}

type ghAdvisory struct {
	GHSAID          string `json:"ghsa_id"`
	CVEID           string `json:"cve_id"`
	Summary         string `json:"summary"`
	Severity        string `json:"severity"`
	HTMLURL         string `json:"html_url"`
	Vulnerabilities []struct {
		Package struct {
			Ecosystem string `json:"ecosystem"`
			Name      string `json:"name"`
		} `json:"package"`
		VulnerableVersionRange string `json:"vulnerable_version_range"`
		FirstPatchedVersion    *struct {
			Identifier string `json:"identifier"`
		} `json:"first_patched_version"`
	} `json:"vulnerabilities"`
}

type ghEvent struct {
	Action     string `json:"action"`
	Zen        string `json:"zen"`
	HookID     int64  `json:"hook_id"`
	Repository ghRepo `json:"repository"`
	Sender     ghUser `json:"sender"`
	PR         struct {
		Number  int    `json:"number"`
		Title   string `json:"title"`
		HTMLURL string `json:"html_url"`
		Merged  bool   `json:"merged"`
		User    ghUser `json:"user"`
		Head    struct {
			Ref string `json:"ref"`
		} `json:"head"`
		Base struct {
			Ref string `json:"ref"`
		} `json:"base"`
	} `json:"pull_request"`
	Run struct {
		ID         int64  `json:"id"`
		Name       string `json:"name"`
		RunNumber  int    `json:"run_number"`
		HeadBranch string `json:"head_branch"`
		HeadSHA    string `json:"head_sha"`
		Event      string `json:"event"`
		Conclusion string `json:"conclusion"`
		HTMLURL    string `json:"html_url"`
		Actor      ghUser `json:"actor"`
	} `json:"workflow_run"`
	Alert struct {
		Number  int         `json:"number"`
		HTMLURL string      `json:"html_url"`
		State   string      `json:"state"`
		SecAdv  *ghAdvisory `json:"security_advisory"`
		Vuln    *struct {
			Package struct {
				Ecosystem string `json:"ecosystem"`
				Name      string `json:"name"`
			} `json:"package"`
			Severity               string `json:"severity"`
			VulnerableVersionRange string `json:"vulnerable_version_range"`
			FirstPatchedVersion    *struct {
				Identifier string `json:"identifier"`
			} `json:"first_patched_version"`
		} `json:"security_vulnerability"`
		Dependency struct {
			ManifestPath string `json:"manifest_path"`
		} `json:"dependency"`
		Rule struct {
			ID                    string `json:"id"`
			Severity              string `json:"severity"`
			SecuritySeverityLevel string `json:"security_severity_level"`
			Description           string `json:"description"`
		} `json:"rule"`
		Tool struct {
			Name string `json:"name"`
		} `json:"tool"`
		Instance struct {
			Ref      string `json:"ref"`
			Location struct {
				Path      string `json:"path"`
				StartLine int    `json:"start_line"`
			} `json:"location"`
		} `json:"most_recent_instance"`
		SecretType        string `json:"secret_type"`
		SecretDisplayName string `json:"secret_type_display_name"`
		Resolution        string `json:"resolution"`
	} `json:"alert"`
	Advisory ghAdvisory `json:"security_advisory"`
}

// Parse renders the events the bot announces; others give no alert.
func (g *GitHub) Parse(r *http.Request, body []byte) ([]alert.Alert, error) {
	event := r.Header.Get("X-GitHub-Event")
	if event == "push" {
		var p ghPush
		if err := json.Unmarshal(body, &p); err != nil {
			return nil, err
		}
		return []alert.Alert{g.push(&p, r.Header.Get("X-GitHub-Delivery"))}, nil
	}
	var e ghEvent
	if err := json.Unmarshal(body, &e); err != nil {
		return nil, err
	}
	repo := e.Repository.FullName
	base := alert.Alert{Source: "github", Repository: repo, Labels: map[string]string{"event": event, "action": e.Action}}
	a := base
	switch event {
	case "ping":
		a.Notice = true
		a.Title = fmt.Sprintf("GitHub webhook %d is connected", e.HookID)
		if repo != "" {
			a.Title += " for " + repo
		}
		a.Text = e.Zen
	case "pull_request":
		switch {
		case e.Action == "opened":
			a.Title = fmt.Sprintf("%s opened pull request #%d in %s: %s", e.PR.User.Login, e.PR.Number, repo, e.PR.Title)
		case e.Action == "closed" && e.PR.Merged:
			a.Title = fmt.Sprintf("%s merged pull request #%d in %s: %s", e.Sender.Login, e.PR.Number, repo, e.PR.Title)
		default:
			return nil, nil
		}
		a.Notice = true
		a.Text = fmt.Sprintf("`%s` ← `%s`", e.PR.Base.Ref, e.PR.Head.Ref)
		a.URL = e.PR.HTMLURL
		a.Fingerprint = fmt.Sprintf("pr/%s/%d/%s", repo, e.PR.Number, e.Action)
	case "workflow_run":
		if e.Action != "completed" || (e.Run.Conclusion != "failure" && e.Run.Conclusion != "timed_out") {
			return nil, nil
		}
		a.Severity = alert.Medium
		a.Title = fmt.Sprintf("Workflow %q failed on %s in %s", e.Run.Name, e.Run.HeadBranch, repo)
		a.Text = fmt.Sprintf("run #%d (%s) of `%s`, triggered by %s on %s", e.Run.RunNumber, e.Run.Conclusion, short(e.Run.HeadSHA), e.Run.Actor.Login, e.Run.Event)
		a.URL = e.Run.HTMLURL
		a.Fingerprint = fmt.Sprintf("workflow_run/%d", e.Run.ID)
		a.GroupKey = "workflow/" + repo + "/" + e.Run.Name
		a.Labels["branch"] = e.Run.HeadBranch
	case "dependabot_alert":
		return g.dependabot(&e, a)
	case "code_scanning_alert":
		return g.codeScanning(&e, a)
	case "secret_scanning_alert":
		var ok bool
		if a.Status, ok = actionStatus(e.Action, []string{"created", "reopened"}, []string{"resolved"}); !ok {
			return nil, nil
		}
		a.Severity = alert.Critical
		name := cmp.Or(e.Alert.SecretDisplayName, e.Alert.SecretType)
		// The payload may carry the secret itself; it is never shown.
		a.Title = fmt.Sprintf("Secret scanning alert #%d in %s: %s", e.Alert.Number, repo, name)
		a.Text = "Revoke the secret at its issuer first, then remove it from the history."
		if e.Alert.Resolution != "" {
			a.Text = "resolution: " + e.Alert.Resolution
		}
		a.URL = e.Alert.HTMLURL
		a.Fingerprint = fmt.Sprintf("secret_scanning/%s/%d", repo, e.Alert.Number)
	case "security_advisory":
		var ok bool
		if a.Status, ok = actionStatus(e.Action, []string{"published", "updated"}, []string{"withdrawn"}); !ok {
			return nil, nil
		}
		adv := e.Advisory
		a.Severity, _ = alert.ParseSeverity(adv.Severity)
		a.Title = fmt.Sprintf("Security advisory %s: %s", cmp.Or(adv.CVEID, adv.GHSAID), adv.Summary)
		a.Text = advisoryPackages(&adv)
		a.URL = adv.HTMLURL
		a.Fingerprint = "advisory/" + adv.GHSAID
	default:
		return nil, nil
	}
	return []alert.Alert{a}, nil
}

func (g *GitHub) dependabot(e *ghEvent, a alert.Alert) ([]alert.Alert, error) {
	var ok bool
	if a.Status, ok = actionStatus(e.Action, []string{"created", "reopened", "reintroduced"}, []string{"fixed", "dismissed", "auto_dismissed"}); !ok {
		return nil, nil
	}
	adv := ghAdvisory{}
	if e.Alert.SecAdv != nil {
		adv = *e.Alert.SecAdv
	}
	sev, pkg, fix := adv.Severity, "", ""
	if v := e.Alert.Vuln; v != nil {
		sev = cmp.Or(v.Severity, sev)
		pkg = fmt.Sprintf("%s %s %s", v.Package.Ecosystem, v.Package.Name, v.VulnerableVersionRange)
		if v.FirstPatchedVersion != nil {
			fix = v.FirstPatchedVersion.Identifier
		}
	}
	a.Severity, _ = alert.ParseSeverity(sev)
	a.Title = fmt.Sprintf("Dependabot alert #%d in %s: %s", e.Alert.Number, e.Repository.FullName, cmp.Or(adv.Summary, adv.GHSAID))
	lines := []string{fmt.Sprintf("%s in `%s` (%s)", strings.TrimSpace(pkg), e.Alert.Dependency.ManifestPath, cmp.Or(adv.CVEID, adv.GHSAID))}
	if fix != "" {
		lines = append(lines, "fixed in "+fix)
	}
	a.Text = strings.Join(lines, "\n")
	a.URL = e.Alert.HTMLURL
	a.Fingerprint = fmt.Sprintf("dependabot/%s/%d", e.Repository.FullName, e.Alert.Number)
	return []alert.Alert{a}, nil
}

func (g *GitHub) codeScanning(e *ghEvent, a alert.Alert) ([]alert.Alert, error) {
	var ok bool
	if a.Status, ok = actionStatus(e.Action, []string{"created", "reopened", "appeared_in_branch", "reopened_by_user"}, []string{"fixed", "closed_by_user"}); !ok {
		return nil, nil
	}
	rule := e.Alert.Rule
	a.Severity, _ = alert.ParseSeverity(cmp.Or(rule.SecuritySeverityLevel, rule.Severity))
	a.Title = fmt.Sprintf("Code scanning alert #%d in %s: %s", e.Alert.Number, e.Repository.FullName, cmp.Or(rule.Description, rule.ID))
	loc := e.Alert.Instance.Location
	a.Text = fmt.Sprintf("%s rule `%s` at `%s:%d` on %s", e.Alert.Tool.Name, rule.ID, loc.Path, loc.StartLine, strings.TrimPrefix(e.Alert.Instance.Ref, "refs/heads/"))
	a.URL = e.Alert.HTMLURL
	a.Fingerprint = fmt.Sprintf("code_scanning/%s/%d", e.Repository.FullName, e.Alert.Number)
	return []alert.Alert{a}, nil
}

// push summarises a push: who pushed what where, the first commits, and a
// flag for force-pushes and pushes to protected branches.
func (g *GitHub) push(p *ghPush, delivery string) alert.Alert {
	branch, isTag := strings.CutPrefix(p.Ref, "refs/tags/")
	if !isTag {
		branch = strings.TrimPrefix(p.Ref, "refs/heads/")
	}
	a := alert.Alert{
		Source: "github", Repository: p.Repository.FullName, Notice: true, URL: p.Compare,
		Labels:      map[string]string{"event": "push", "branch": branch},
		Fingerprint: "push/" + delivery,
	}
	protected := !isTag && (branch == p.Repository.DefaultBranch || matchAny(g.Protected, branch))
	what := "branch"
	if isTag {
		what = "tag"
	}
	switch {
	case p.Deleted:
		a.Title = fmt.Sprintf("%s deleted %s %s in %s", p.Pusher.Name, what, branch, p.Repository.FullName)
	case isTag:
		a.Title = fmt.Sprintf("%s pushed tag %s to %s", p.Pusher.Name, branch, p.Repository.FullName)
	default:
		a.Title = fmt.Sprintf("%s pushed %s to %s %s", p.Pusher.Name, plural(len(p.Commits), "commit"), p.Repository.FullName, branch)
	}
	var flags []string
	if p.Forced {
		flags = append(flags, "force-push")
	}
	if protected {
		flags = append(flags, "protected branch")
	}
	if len(flags) > 0 {
		a.Title = "[" + strings.Join(flags, ", ") + "] " + a.Title
	}
	// A rewritten or deleted protected branch is a problem to look at,
	// not news.
	if protected && (p.Forced || p.Deleted) {
		a.Notice, a.Severity = false, alert.High
	} else if p.Forced {
		a.Severity = alert.Medium
	}
	a.Text = commitLines(len(p.Commits), g.MaxCommits, func(i int) (string, string, string, string) {
		c := p.Commits[i]
		return c.ID, c.Message, c.URL, cmp.Or(c.Author.Username, c.Author.Name)
	})
	return a
}

// commitLines lists up to max commits (default 5), newest last, with a
// count of the rest.
func commitLines(n, max int, commit func(i int) (id, msg, url, author string)) string {
	if max <= 0 {
		max = 5
	}
	var b strings.Builder
	for i := range min(n, max) {
		id, msg, url, author := commit(i)
		first, _, _ := strings.Cut(strings.TrimSpace(msg), "\n")
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "- [`%s`](%s) %s (%s)", short(id), url, first, author)
	}
	if n > max {
		fmt.Fprintf(&b, "\n…and %d more", n-max)
	}
	return b.String()
}

func advisoryPackages(adv *ghAdvisory) string {
	var lines []string
	for _, v := range adv.Vulnerabilities {
		line := fmt.Sprintf("%s %s %s", v.Package.Ecosystem, v.Package.Name, v.VulnerableVersionRange)
		if v.FirstPatchedVersion != nil {
			line += ", fixed in " + v.FirstPatchedVersion.Identifier
		}
		lines = append(lines, "- "+line)
	}
	return strings.Join(lines, "\n")
}

// actionStatus reads a security event's action as firing or resolved; ok
// is false for actions the bot does not announce.
func actionStatus(action string, firing, resolved []string) (alert.Status, bool) {
	switch {
	case slices.Contains(firing, action):
		return alert.Firing, true
	case slices.Contains(resolved, action):
		return alert.Resolved, true
	}
	return "", false
}

func matchAny(patterns []string, s string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, s); ok {
			return true
		}
	}
	return false
}

func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
