package access

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/seipbot/seipbot/bot"
	"github.com/seipbot/seipbot/store"
)

// Approvals is the two-person rule. Its Middleware (bot.Options.Approval)
// holds back a command that an approval rule covers and stores a request
// for it; its commands "approve <id>" and "deny <id>" answer requests.
// Once enough approvers agree, the original message is delivered to the
// bot again; it passes access control again, and the Middleware runs it
// exactly once, replying in the room it came from.
//
// A request is bound to a keyed hash of the command's words, its
// arguments and the requester, so a changed argument is a new request.
// The hash is keyed (HMAC-SHA-256) because it names the request in store
// keys, which are not encrypted, and arguments may be secret.
type Approvals struct {
	auth *Authorizer
	st   store.Store
	key  []byte
	now  func() time.Time
	// Inbox is where an approved command is delivered again: the bot.
	// Set it once the bot exists, before it runs.
	Inbox bot.Inbox
}

// NewApprovals returns the approvals of a's policy, kept in st; key keys
// the request hashes (the keyring's Derive("approvals")), and now is the
// clock that decides expiry (nil for time.Now). It does no I/O.
func NewApprovals(a *Authorizer, st store.Store, key []byte, now func() time.Time) *Approvals {
	if now == nil {
		now = time.Now
	}
	return &Approvals{auth: a, st: st, key: key, now: now}
}

const (
	requestPrefix = "approvals/"
	idPrefix      = "approval-ids/"
)

// request is a command waiting for approval.
type request struct {
	ID        string    `json:"id"`
	Requester string    `json:"requester"`
	Command   string    `json:"command"` // as typed, for people to read
	Needed    int       `json:"needed"`
	Role      string    `json:"role"`
	Approvers []string  `json:"approvers"`
	Approved  bool      `json:"approved"`
	Expires   time.Time `json:"expires"`
	// The original message, delivered again once approved.
	Adapter   string `json:"adapter"`
	Room      string `json:"room"`
	Thread    string `json:"thread"`
	Direct    bool   `json:"direct"`
	Mentioned bool   `json:"mentioned"`
	Text      string `json:"text"`
	UserName  string `json:"user_name"`
}

// rule returns the approval rule that covers m, or nil.
func (a *Approvals) rule(m *bot.Message) *ApprovalRule {
	if m.Command == nil {
		return nil
	}
	r, ok := a.auth.ApprovalRule(m.Command.Permission)
	if !ok {
		return nil
	}
	// A copy made only here: returning &r itself would put r on the heap
	// for every command, most of which need no approval.
	rule := r
	return &rule
}

// hash binds a request to the command's words, its arguments as typed in
// the order declared, and the requester. Each part is length-prefixed so
// that no two different requests write the same bytes.
func (a *Approvals) hash(m *bot.Message) string {
	h := hmac.New(sha256.New, a.key)
	part := func(s string) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	part(m.Command.Words)
	part(m.User.ID)
	for _, decl := range m.Command.Args {
		if i := slices.IndexFunc(m.Args, func(v bot.ArgValue) bool { return v.Name == decl.Name }); i >= 0 {
			part(decl.Name)
			part(m.Args[i].Raw)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Middleware holds back what an approval rule covers until it is
// approved, and runs an approved request once.
func (a *Approvals) Middleware(next bot.Handler) bot.Handler {
	return bot.HandlerFunc(func(ctx context.Context, w bot.Responder, m *bot.Message) error {
		rule := a.rule(m)
		if rule == nil {
			return next.Handle(ctx, w, m)
		}
		key := requestPrefix + a.hash(m)
		now := a.now()
		var pending *request
		run := false
		// The transition from approved to gone decides, under the store's
		// lock, which one delivery runs the command.
		err := a.st.Update(ctx, key, func(cur []byte) ([]byte, error) {
			pending, run = nil, false
			if cur == nil {
				return nil, nil
			}
			var r request
			if err := json.Unmarshal(cur, &r); err != nil {
				return nil, err
			}
			switch {
			case !now.Before(r.Expires):
				return nil, nil
			case r.Approved:
				run = true
				return nil, nil
			}
			pending = &r
			return cur, nil
		})
		if err != nil {
			return fmt.Errorf("approvals: %w", err)
		}
		if run {
			return next.Handle(ctx, w, m)
		}
		if pending == nil {
			if pending, err = a.create(ctx, key, rule, m, now); err != nil {
				return err
			}
		}
		return &bot.UserError{Msg: fmt.Sprintf("%q needs the approval of %s holding the role %s: ask them to say \"approve %s\" (or \"deny %s\") before %s.",
			pending.Command, people(pending.Needed-len(pending.Approvers)), pending.Role, pending.ID, pending.ID, pending.Expires.Format("15:04 MST")),
			Err:     bot.ErrPendingApproval,
			Buttons: []bot.Button{{Label: "Approve", Value: "approve " + pending.ID}, {Label: "Deny", Value: "deny " + pending.ID}},
		}
	})
}

func people(n int) string {
	if n == 1 {
		return "one more person"
	}
	return fmt.Sprintf("%d more people", n)
}

// create stores a new request for m.
func (a *Approvals) create(ctx context.Context, key string, rule *ApprovalRule, m *bot.Message, now time.Time) (*request, error) {
	expires := rule.Expires
	if expires <= 0 {
		expires = DefaultApprovalExpiry
	}
	var b [5]byte
	rand.Read(b[:])
	r := &request{
		ID:        strings.ToLower(base32.StdEncoding.EncodeToString(b[:])),
		Requester: m.User.ID,
		Command:   strings.TrimSpace(m.Body),
		Needed:    rule.Approvals,
		Role:      rule.Approvers,
		Expires:   now.Add(expires),
		Adapter:   m.Adapter, Room: m.Room, Thread: m.Thread, Direct: m.Direct, Mentioned: m.Mentioned,
		Text: m.Text, UserName: m.User.Name,
	}
	if r.Command == "" {
		r.Command = m.Command.Words
	}
	data, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	// The store forgets a request when it expires, so abandoned ones do
	// not pile up.
	if err := a.st.Put(ctx, key, data, expires); err != nil {
		return nil, fmt.Errorf("approvals: store request: %w", err)
	}
	if err := a.st.Put(ctx, idPrefix+r.ID, []byte(key), expires); err != nil {
		return nil, fmt.Errorf("approvals: store request: %w", err)
	}
	return r, nil
}

// Name returns "approvals".
func (a *Approvals) Name() string { return "approvals" }

// Register declares "approve <id>" and "deny <id>". They declare no
// permission: who may answer a request is the request's rule's business,
// checked against the policy when they answer.
func (a *Approvals) Register(r *bot.Registry) error {
	id := []bot.Arg{{Name: "id", Kind: bot.String, Help: "the request's id, as the request said"}}
	r.Command(bot.Command{Words: "approve", Args: id, Help: "approve a command waiting for your approval", Handler: bot.HandlerFunc(a.approve)})
	r.Command(bot.Command{Words: "deny", Args: id, Help: "refuse a command waiting for approval", Handler: bot.HandlerFunc(a.deny)})
	return nil
}

// errNoRequest answers an id that names no live request.
func errNoRequest(id string) error {
	return bot.Userf("There is no approval request %q waiting; it may have expired, been answered, or been mistyped.", id)
}

// answer applies decide to the request named by the message's id, under
// the store's lock, and returns the request as it was left.
func (a *Approvals) answer(ctx context.Context, m *bot.Message, decide func(r *request) (keep bool, err error)) (*request, error) {
	id := strings.ToLower(m.Args.String("id"))
	key, err := a.st.Get(ctx, idPrefix+id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errNoRequest(id)
	}
	if err != nil {
		return nil, err
	}
	now := a.now()
	var out *request
	err = a.st.Update(ctx, string(key), func(cur []byte) ([]byte, error) {
		out = nil
		if cur == nil {
			return nil, errNoRequest(id)
		}
		var r request
		if err := json.Unmarshal(cur, &r); err != nil {
			return nil, err
		}
		if r.ID != id || !now.Before(r.Expires) {
			return nil, errNoRequest(id)
		}
		keep, err := decide(&r)
		if err != nil {
			return nil, err
		}
		out = &r
		if !keep {
			return nil, nil
		}
		return json.Marshal(r)
	})
	return out, err
}

func (a *Approvals) approve(ctx context.Context, w bot.Responder, m *bot.Message) error {
	me := m.User.ID
	dispatch := false
	r, err := a.answer(ctx, m, func(r *request) (bool, error) {
		dispatch = false
		switch {
		case r.Approved:
			return true, bot.Userf("Request %s is already approved.", r.ID)
		case r.Requester == me:
			return true, bot.Denied(fmt.Sprintf("You cannot approve your own request; ask someone else holding the role %s.", r.Role))
		case !a.auth.p.hasRole(me, r.Role):
			return true, bot.Denied(fmt.Sprintf("Only people holding the role %s may approve request %s.", r.Role, r.ID))
		case slices.Contains(r.Approvers, me):
			return true, bot.Userf("You have already approved request %s.", r.ID)
		}
		r.Approvers = append(r.Approvers, me)
		if len(r.Approvers) >= r.Needed {
			r.Approved, dispatch = true, true
		}
		return true, nil
	})
	if err != nil {
		return err
	}
	if !dispatch {
		return w.Reply(ctx, fmt.Sprintf("Approved (%d of %d) %s's %q.", len(r.Approvers), r.Needed, r.Requester, r.Command))
	}
	if err := w.Reply(ctx, fmt.Sprintf("Approved: running %s's %q.", r.Requester, r.Command)); err != nil {
		return err
	}
	a.Inbox.Receive(ctx, &bot.Message{
		Adapter: r.Adapter, Room: r.Room, Thread: r.Thread, Direct: r.Direct, Mentioned: r.Mentioned,
		Text: r.Text, User: bot.User{ID: r.Requester, Name: r.UserName},
	})
	return nil
}

func (a *Approvals) deny(ctx context.Context, w bot.Responder, m *bot.Message) error {
	me := m.User.ID
	r, err := a.answer(ctx, m, func(r *request) (bool, error) {
		// The requester may withdraw their own request.
		if r.Requester != me && !a.auth.p.hasRole(me, r.Role) {
			return true, bot.Denied(fmt.Sprintf("Only people holding the role %s may deny request %s.", r.Role, r.ID))
		}
		return false, nil
	})
	if err != nil {
		return err
	}
	if err := w.Reply(ctx, fmt.Sprintf("Denied: %s's %q will not run.", r.Requester, r.Command)); err != nil {
		return err
	}
	if r.Requester == me {
		return nil
	}
	tell := bot.Response{Adapter: r.Adapter, Room: r.Room, Thread: r.Thread, Direct: r.Direct, Text: fmt.Sprintf("%s denied %q (request %s).", me, r.Command, r.ID)}
	if r.Direct {
		tell.User = r.Requester
	}
	return w.Send(ctx, tell)
}
