package secops

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/seipbot/seipbot/bot"
	"github.com/seipbot/seipbot/jobs"
	"github.com/seipbot/seipbot/scan/deps"
	"github.com/seipbot/seipbot/scan/repo"
	"github.com/seipbot/seipbot/scan/secrets"
)

// RepoOptions say which repositories "scan repo" may read.
type RepoOptions struct {
	repo.Policy
	// Repos name git URLs; a named URL passes the same checks as a typed
	// one.
	Repos map[string]string
	// Timeout bounds a clone.
	Timeout time.Duration
	// MaxBytes bounds what one scan reads.
	MaxBytes int64
}

// listMost bounds each list in a report, so a repository full of
// findings does not flood the room; the job's record says how many more.
const listMost = 50

func (p *Plugin) registerRepo(r *bot.Registry) {
	r.Command(bot.Command{
		Words: "scan repo", Args: []bot.Arg{{Name: "source", Kind: bot.String, Help: "a git URL from an allowed host, a configured repository's name, or a folder under an allowed path"}},
		Help:       "look for committed secrets and vulnerable dependencies in a repository (a job)",
		Examples:   []string{"scan repo https://github.com/org/app.git", "scan repo payments", "scan repo /srv/repos/app"},
		Permission: "scan.repo", Sensitive: true, Handler: bot.HandlerFunc(p.scanRepo),
	})
	if p.o.OSVDir == "" {
		// Without a database "cve" could only refuse, and the name stays
		// free for a team's own plugin that asks an API.
		return
	}
	r.Command(bot.Command{
		Words: "cve", Args: []bot.Arg{{Name: "id", Kind: bot.String, Help: "an advisory id or alias: CVE-…, GHSA-…, GO-…"}},
		Help: "look up a vulnerability in the offline OSV database", Examples: []string{"cve CVE-2021-44228"},
		Permission: "lookup.cve", Handler: bot.HandlerFunc(p.cve),
	})
}

// fetch makes a repository readable in a folder, and cleans up after.
type fetch func(ctx context.Context, progress func(string)) (dir string, done func(), err error)

// source checks what the user asked to scan and says how to fetch it.
func (p *Plugin) source(raw string) (fetch, error) {
	ro := p.o.Repo
	url, named := ro.Repos[strings.ToLower(raw)]
	if !named && !repo.IsURL(raw) {
		dir, err := ro.CheckPath(raw)
		if err != nil {
			return nil, repoRefusal(err)
		}
		return func(context.Context, func(string)) (string, func(), error) { return dir, func() {}, nil }, nil
	}
	if !named {
		url = raw
	}
	url, err := ro.CheckURL(url)
	if err != nil {
		return nil, repoRefusal(err)
	}
	return func(ctx context.Context, progress func(string)) (string, func(), error) {
		tmp, err := os.MkdirTemp("", "seipbot-repo-")
		if err != nil {
			return "", nil, err
		}
		done := func() { os.RemoveAll(tmp) }
		progress("cloning…")
		err = repo.Clone(ctx, url, filepath.Join(tmp, "repo"), repo.CloneOptions{Timeout: ro.Timeout, AllowFile: ro.AllowFileURLs})
		var ce *repo.CloneError
		if errors.As(err, &ce) {
			done()
			return "", nil, &bot.UserError{Msg: "The clone failed: " + ce.Reason, Err: err}
		}
		if err != nil {
			done()
			return "", nil, err
		}
		return filepath.Join(tmp, "repo"), done, nil
	}, nil
}

func repoRefusal(err error) error {
	if errors.Is(err, repo.ErrRefused) {
		return &bot.UserError{Msg: err.Error(), Err: err}
	}
	return err
}

func (p *Plugin) scanRepo(ctx context.Context, w bot.Responder, m *bot.Message) error {
	raw := m.Args.String("source")
	get, err := p.source(raw)
	if err != nil {
		return err
	}
	j, err := p.o.Jobs.Start(ctx, w, jobs.SpecFor(m), func(ctx context.Context, progress func(string)) (string, error) {
		dir, done, err := get(ctx, progress)
		if err != nil {
			return "", err
		}
		defer done()
		progress("looking for secrets and vulnerable dependencies…")
		return p.inspect(raw, dir)
	})
	if err != nil {
		return err
	}
	return w.Reply(ctx, fmt.Sprintf("Job %s: scanning %s for secrets and vulnerable dependencies; the findings will follow in the thread.", j.ID, raw))
}

// inspect scans the tree at dir through an os.Root, which refuses any path
// that leads out of it, and renders the findings. The report names files,
// lines, rules and fingerprints, never a secret.
func (p *Plugin) inspect(label, dir string) (string, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return "", err
	}
	defer root.Close()
	fsys := root.FS()
	found, err := secrets.Scan(fsys, secrets.Options{MaxBytes: p.o.Repo.MaxBytes})
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Scanned %s: %d files read", label, found.Files)
	if found.Skipped > 0 {
		fmt.Fprintf(&b, ", %d skipped (binary, too large or links)", found.Skipped)
	}
	if found.Ignored > 0 {
		fmt.Fprintf(&b, ", %d findings ignored by %s", found.Ignored, secrets.IgnoreFile)
	}
	b.WriteString(".")
	if found.Truncated {
		fmt.Fprintf(&b, " The scan stopped at its limit of %d bytes; the rest was not read.", p.o.Repo.MaxBytes)
	}
	if len(found.Findings) == 0 {
		b.WriteString("\nNo secrets found.")
	} else {
		fmt.Fprintf(&b, "\nSecrets (%d); revoke them, then remove them from the history:", len(found.Findings))
		for i, f := range found.Findings {
			if i == listMost {
				fmt.Fprintf(&b, "\n  … and %d more", len(found.Findings)-listMost)
				break
			}
			fmt.Fprintf(&b, "\n  %s:%d  %s  (fingerprint %s)", f.File, f.Line, f.Rule, f.Fingerprint)
		}
	}
	b.WriteString("\n")
	b.WriteString(p.dependencyReport(fsys))
	return b.String(), nil
}

// dependencyReport matches the tree's pinned dependencies with the OSV
// database, or says why it could not.
func (p *Plugin) dependencyReport(fsys fs.FS) string {
	pkgs, err := deps.Find(fsys, 0)
	if err != nil {
		p.log.Warn("secops: a manifest could not be read", "err", err)
		return "Dependencies were not checked: a manifest could not be read (" + err.Error() + ")."
	}
	if len(pkgs) == 0 {
		return "No go.mod, package-lock.json or requirements.txt pins were found."
	}
	db, err := p.osv()
	if err != nil {
		var ue *bot.UserError
		if errors.As(err, &ue) {
			return fmt.Sprintf("%d pinned dependencies were not checked: %s", len(pkgs), ue.Msg)
		}
		p.log.Error("secops: the OSV database could not be loaded", "err", err)
		return fmt.Sprintf("%d pinned dependencies were not checked: the vulnerability database could not be loaded.", len(pkgs))
	}
	vulns := db.Match(pkgs)
	if len(vulns) == 0 {
		return fmt.Sprintf("No known vulnerabilities in %d pinned dependencies.", len(pkgs))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Vulnerable dependencies (%d of %d pinned):", len(vulns), len(pkgs))
	for i, v := range vulns {
		if i == listMost {
			fmt.Fprintf(&b, "\n  … and %d more", len(vulns)-listMost)
			break
		}
		fix := "no fixed version known"
		if len(v.Fixed) > 0 {
			fix = "fixed in " + strings.Join(v.Fixed, ", ")
		}
		fmt.Fprintf(&b, "\n  %s: %s %s %s  %s: %s; %s", v.Package.File, v.Package.Ecosystem, v.Package.Name, v.Package.Version, advisoryName(v.Advisory), v.Advisory.Summary, fix)
	}
	return b.String()
}

// advisoryName is an advisory's id with its aliases.
func advisoryName(a *deps.Advisory) string {
	if len(a.Aliases) == 0 {
		return a.ID
	}
	return a.ID + " (" + strings.Join(a.Aliases, ", ") + ")"
}

// osv returns the OSV database, loading it again when its folder changed
// (files added or removed), so an update needs no restart.
func (p *Plugin) osv() (*deps.DB, error) {
	dir := p.o.OSVDir
	if dir == "" {
		return nil, bot.Userf("no vulnerability database is configured; an admin sets osv.dir.")
	}
	info, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("secops: osv: %w", err)
	}
	p.osvMu.Lock()
	defer p.osvMu.Unlock()
	if p.osvDB != nil && info.ModTime().Equal(p.osvMod) {
		return p.osvDB, nil
	}
	db, err := deps.Load(dir)
	if err != nil {
		return nil, err
	}
	p.osvDB, p.osvMod = db, info.ModTime()
	return db, nil
}

func (p *Plugin) cve(ctx context.Context, w bot.Responder, m *bot.Message) error {
	id := m.Args.String("id")
	db, err := p.osv()
	if err != nil {
		return err
	}
	a, ok := db.Lookup(id)
	if !ok {
		return bot.Userf("%s is not in the vulnerability database (%d advisories).", id, db.Len())
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s", advisoryName(a), a.Summary)
	for _, af := range a.Affected {
		var parts []string
		for _, r := range af.Ranges {
			if r.Type == "GIT" {
				continue
			}
			var evs []string
			for _, e := range r.Events {
				switch {
				case e.Introduced != "":
					evs = append(evs, "from "+e.Introduced)
				case e.Fixed != "":
					evs = append(evs, "fixed in "+e.Fixed)
				case e.LastAffected != "":
					evs = append(evs, "up to "+e.LastAffected)
				}
			}
			parts = append(parts, strings.Join(evs, ", "))
		}
		if len(af.Versions) > 0 {
			parts = append(parts, "versions "+strings.Join(af.Versions, ", "))
		}
		fmt.Fprintf(&b, "\n  %s %s: %s", af.Package.Ecosystem, af.Package.Name, strings.Join(parts, "; "))
	}
	return w.Reply(ctx, b.String())
}
