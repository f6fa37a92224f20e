package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/seipbot/seipbot/access"
	"github.com/seipbot/seipbot/bot"
	"github.com/seipbot/seipbot/config"
)

// policy is the access policy the bot runs under, and a note saying which
// for the audit log: the configured one, or with none configured,
// everything for owner (the shell's user, who owns the data and its key)
// and for anyone else only the commands that declare no permission.
func policy(cfg *config.Config, owner string) (access.Policy, string) {
	a := cfg.Access
	if a == nil {
		if owner != "" {
			return access.Owner(owner), "no access policy is configured; " + owner + " owns the bot and holds every permission"
		}
		return access.Policy{}, "no access policy is configured; only commands without a permission run"
	}
	p := access.Policy{Groups: a.Groups, Roles: map[string]access.Role{}, SecurityRoom: a.SecurityRoom}
	for name, r := range a.Roles {
		p.Roles[name] = access.Role{Permissions: r.Permissions}
	}
	for _, g := range a.Grants {
		p.Grants = append(p.Grants, access.Grant{Group: g.Group, Identity: g.Identity, Role: g.Role, Rooms: g.Rooms, Args: g.Args})
	}
	for _, r := range a.Approvals {
		p.Approvals = append(p.Approvals, access.ApprovalRule{Permission: r.Permission, Approvals: r.Approvals, Approvers: r.Approvers, Expires: time.Duration(r.Expires)})
	}
	for _, l := range a.RateLimits {
		p.RateLimits = append(p.RateLimits, access.RateLimit{Permission: l.Permission, PerMinute: l.PerMinute, Burst: l.Burst})
	}
	return p, fmt.Sprintf("access policy loaded: %d groups, %d roles, %d grants, %d approval rules", len(p.Groups), len(p.Roles), len(p.Grants), len(p.Approvals))
}

// accessCmd is "seipbot access check <identity> <command line…>".
func (c *cli) accessCmd(_ context.Context, args []string) error {
	if len(args) == 0 || args[0] != "check" {
		return usageError{`say "access check <identity> <command line…>"`}
	}
	fs := c.flags("access check", "access check [--config FILE] [--data-dir DIR] [--room ROOM] <identity> <command line…>")
	f := registerCommon(fs)
	room := fs.String("room", "", "decide for this room (default: a direct conversation)")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	if fs.NArg() < 2 {
		return usageError{"name an identity (such as slack:U024BE7LH or shell:alice) and a command line"}
	}
	id, line := fs.Arg(0), strings.Join(fs.Args()[1:], " ")
	cfg, err := c.load(*f)
	if err != nil {
		return err
	}
	a, err := wireDry(cfg, c.logger(cfg))
	if err != nil {
		return err
	}
	cmd, cmdArgs, err := a.bot.Router().Parse(line)
	switch {
	case err != nil:
		return fmt.Errorf("%q: %w", line, err)
	case cmd == nil:
		return fmt.Errorf("%q names no command; \"seipbot shell\" and \"help\" list them", line)
	}
	m := &bot.Message{User: bot.User{ID: id}, Room: *room, Direct: *room == "", Command: cmd, Args: cmdArgs}
	if m.Direct {
		m.Room = "dm:" + id
	}
	d := a.auth.Decide(m)
	if !d.Allowed {
		return fmt.Errorf("denied: %s", d.Reason)
	}
	fmt.Fprintf(c.stdout, "allowed: %s\n", d.Reason)
	if r, ok := a.auth.ApprovalRule(d.Permission); ok {
		fmt.Fprintf(c.stdout, "It then waits for approval: %d from holders of the role %s (the rule for %q).\n", r.Approvals, r.Approvers, r.Permission)
	}
	return nil
}
