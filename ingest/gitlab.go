package ingest

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/seipbot/seipbot/alert"
)

// GitLab receives project webhooks authenticated by X-Gitlab-Token.
type GitLab struct {
	Token      string
	MaxCommits int
	// Protected are branch patterns whose pushes are flagged; the
	// project's default branch always is.
	Protected []string
}

// Name returns "gitlab".
func (g *GitLab) Name() string { return "gitlab" }

// ReplayWindow is a day: the token is static, so a captured delivery is
// refused by its event UUID.
func (g *GitLab) ReplayWindow() time.Duration { return 24 * time.Hour }

// Verify compares the token.
func (g *GitLab) Verify(r *http.Request, _ []byte) (string, error) {
	return r.Header.Get("X-Gitlab-Event-UUID"), checkToken(g.Token, r.Header.Get("X-Gitlab-Token"))
}

type glProject struct {
	PathWithNamespace string `json:"path_with_namespace"`
	WebURL            string `json:"web_url"`
	DefaultBranch     string `json:"default_branch"`
}

type glEvent struct {
	ObjectKind   string    `json:"object_kind"`
	Ref          string    `json:"ref"`
	Before       string    `json:"before"`
	After        string    `json:"after"`
	UserName     string    `json:"user_name"`
	UserUsername string    `json:"user_username"`
	TotalCommits int       `json:"total_commits_count"`
	Project      glProject `json:"project"`
	User         struct {
		Name     string `json:"name"`
		Username string `json:"username"`
	} `json:"user"`
	Commits []struct {
		ID      string `json:"id"`
		Message string `json:"message"`
		URL     string `json:"url"`
		Author  struct {
			Name string `json:"name"`
		} `json:"author"`
	} `json:"commits"`
	Attrs struct {
		ID           int64  `json:"id"`
		IID          int    `json:"iid"`
		Title        string `json:"title"`
		Action       string `json:"action"`
		URL          string `json:"url"`
		SourceBranch string `json:"source_branch"`
		TargetBranch string `json:"target_branch"`
		Ref          string `json:"ref"`
		SHA          string `json:"sha"`
		Status       string `json:"status"`
		Duration     int    `json:"duration"`
	} `json:"object_attributes"`
}

// Parse renders pushes, opened and merged merge requests, and failed
// pipelines.
func (g *GitLab) Parse(r *http.Request, body []byte) ([]alert.Alert, error) {
	var e glEvent
	if err := json.Unmarshal(body, &e); err != nil {
		return nil, err
	}
	p := e.Project.PathWithNamespace
	a := alert.Alert{Source: "gitlab", Repository: p, Labels: map[string]string{"event": e.ObjectKind}}
	switch e.ObjectKind {
	case "push":
		branch := strings.TrimPrefix(e.Ref, "refs/heads/")
		a.Notice = true
		a.Labels["branch"] = branch
		a.Fingerprint = "push/" + cmp.Or(r.Header.Get("X-Gitlab-Event-UUID"), e.After)
		a.URL = fmt.Sprintf("%s/-/compare/%s...%s", e.Project.WebURL, short(e.Before), short(e.After))
		n := max(e.TotalCommits, len(e.Commits))
		if strings.Trim(e.After, "0") == "" {
			a.Title = fmt.Sprintf("%s deleted branch %s in %s", e.UserUsername, branch, p)
			a.URL = e.Project.WebURL
		} else {
			a.Title = fmt.Sprintf("%s pushed %s to %s %s", e.UserUsername, plural(n, "commit"), p, branch)
		}
		if branch == e.Project.DefaultBranch || matchAny(g.Protected, branch) {
			a.Title = "[protected branch] " + a.Title
		}
		a.Text = commitLines(len(e.Commits), g.MaxCommits, func(i int) (string, string, string, string) {
			c := e.Commits[i]
			return c.ID, c.Message, c.URL, c.Author.Name
		})
	case "merge_request":
		verb := map[string]string{"open": "opened", "merge": "merged"}[e.Attrs.Action]
		if verb == "" {
			return nil, nil
		}
		a.Notice = true
		a.Title = fmt.Sprintf("%s %s merge request !%d in %s: %s", e.User.Username, verb, e.Attrs.IID, p, e.Attrs.Title)
		a.Text = fmt.Sprintf("`%s` ← `%s`", e.Attrs.TargetBranch, e.Attrs.SourceBranch)
		a.URL = e.Attrs.URL
		a.Fingerprint = fmt.Sprintf("mr/%s/%d/%s", p, e.Attrs.IID, e.Attrs.Action)
	case "pipeline":
		if e.Attrs.Status != "failed" {
			return nil, nil
		}
		a.Severity = alert.Medium
		a.Title = fmt.Sprintf("Pipeline #%d failed on %s in %s", e.Attrs.ID, e.Attrs.Ref, p)
		a.Text = fmt.Sprintf("commit `%s` by %s, after %ds", short(e.Attrs.SHA), e.User.Username, e.Attrs.Duration)
		a.URL = cmp.Or(e.Attrs.URL, fmt.Sprintf("%s/-/pipelines/%d", e.Project.WebURL, e.Attrs.ID))
		a.Fingerprint = fmt.Sprintf("pipeline/%s/%d", p, e.Attrs.ID)
		a.GroupKey = "pipeline/" + p + "/" + e.Attrs.Ref
		a.Labels["branch"] = e.Attrs.Ref
	default:
		return nil, nil
	}
	return []alert.Alert{a}, nil
}
