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
	for _, n := range a.Notifications {
		p.Notifications = append(p.Notifications, access.NotificationRule{Rooms: n.Rooms, Allow: n.Allow})
	}
	return p, fmt.Sprintf("access policy loaded: %d groups, %d roles, %d grants, %d approval rules, %d notification rules", len(p.Groups), len(p.Roles), len(p.Grants), len(p.Approvals), len(p.Notifications))
}

// accessCmd is "seipbot access check <identity> <command line…>", or
// "seipbot access check --notify ROOM TOPIC".
func (c *cli) accessCmd(_ context.Context, args []string) error {
	if len(args) == 0 || args[0] != "check" {
		return usageError{`say "access check <identity> <command line…>" or "access check --notify ROOM TOPIC"`}
	}
	fs := c.flags("access check", "access check [--config FILE] [--data-dir DIR] [--room ROOM] <identity> <command line…>\n       access check [--config FILE] --notify ROOM TOPIC")
	f := registerCommon(fs)
	room := fs.String("room", "", "decide for this room (default: a direct conversation)")
	notify := fs.String("notify", "", "decide instead whether ROOM receives the notifications of TOPIC (such as alerts.github or jobs.results)")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	if *notify != "" {
		if fs.NArg() != 1 {
			return usageError{"--notify takes a room and one topic, such as --notify '#soc' alerts.github"}
		}
		return c.notifyCheck(*f, *notify, fs.Arg(0))
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

// notifyCheck says whether the policy lets room receive topic, failing
// when it does not, like a refused command.
func (c *cli) notifyCheck(f commonFlags, room, topic string) error {
	cfg, err := c.load(f)
	if err != nil {
		return err
	}
	pol, _ := policy(cfg, "")
	auth, err := access.New(pol, access.Options{})
	if err != nil {
		return err
	}
	switch {
	case !auth.MayNotify(room, topic):
		return fmt.Errorf("denied: no access.notifications rule lets %s receive %q", room, topic)
	case len(pol.Notifications) == 0:
		fmt.Fprintf(c.stdout, "allowed: no access.notifications rule is written, so every room receives every topic\n")
	default:
		fmt.Fprintf(c.stdout, "allowed: an access.notifications rule lets %s receive %q\n", room, topic)
	}
	return nil
}
