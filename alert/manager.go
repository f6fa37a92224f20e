package alert

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/seipbot/seipbot/bot"
	"github.com/seipbot/seipbot/metrics"
	"github.com/seipbot/seipbot/schedule"
	"github.com/seipbot/seipbot/store"
)

// Store keys of what the manager keeps.
const (
	openPrefix    = "alerts/open/"
	silencePrefix = "alerts/silence/"
)

// Scheduler entry kinds.
const (
	kindEscalate = "alert-escalate"
	kindStorm    = "alert-storm"
)

// DurableSender is the part of the outbox alerts leave through.
type DurableSender interface {
	SendDurable(ctx context.Context, id string, r bot.Response) error
}

// sharedOutbox is an outbox (bot.Outbox) that can store the manager's
// records in the same write as the messages about them. The manager uses
// it only when the outbox keeps its items in the manager's own store.
type sharedOutbox interface {
	SendDurableWith(ctx context.Context, items []bot.Durable, records ...store.Entry) error
	Store() store.Store
}

// Options configure a Manager.
type Options struct {
	Rules []Rule
	// DedupWindow is how long repeats of an open alert stay quiet; after
	// it a repeat says the alert is still firing. Zero announces none.
	DedupWindow time.Duration
	// GroupWindow and GroupMax fold storms: within a window, GroupMax
	// alerts of one group are announced one by one and the rest in one
	// summary at the window's end. A zero GroupWindow turns grouping off.
	GroupWindow time.Duration
	GroupMax    int
	// Retention is how long an open alert is kept after its last report
	// when no resolution comes. Default 7 days.
	Retention time.Duration

	// MayNotify, when set, says whether a room may receive alerts of a
	// topic, "alerts.<source>" (the access policy's MayNotify). A
	// destination it refuses gets no message; an alert it refuses every
	// destination of is dropped like an unrouted one. Nil allows all.
	MayNotify func(room, topic string) bool

	Store  store.Store
	Outbox DurableSender
	// Scheduler delivers escalations and storm summaries, across restarts.
	Scheduler  *schedule.Scheduler
	Logger     *slog.Logger
	Registerer metrics.Registerer // nil: metrics are not exported
	Now        func() time.Time
}

// Record is an open alert as the manager keeps it.
type Record struct {
	ID          string    `json:"id"`
	Fingerprint string    `json:"fp"`
	Alert       Alert     `json:"alert"`
	Rooms       []string  `json:"rooms"` // "adapter/room", where it was announced
	FirstSeen   time.Time `json:"first_seen"`
	LastSeen    time.Time `json:"last_seen"`
	Notified    time.Time `json:"notified"`
	Count       int       `json:"count"`
	// Sent counts messages about the alert, so each outbox item has its
	// own id and a retried Accept replaces rather than repeats one.
	Sent       int       `json:"sent"`
	Group      string    `json:"group,omitempty"` // the storm it was held back in
	AckedBy    string    `json:"acked_by,omitempty"`
	AckNote    string    `json:"ack_note,omitempty"`
	AckedAt    time.Time `json:"acked_at,omitzero"`
	Escalation string    `json:"escalation,omitempty"` // scheduler entry id
}

// Silence keeps matching alerts out of the rooms until it ends.
type Silence struct {
	ID       string    `json:"id"`
	Matchers string    `json:"matchers"`
	By       string    `json:"by"`
	Until    time.Time `json:"until"`
	matchers Matchers
}

// Manager routes, deduplicates, groups and tracks alerts. Create it with
// New, call Load once before Accept, and run the Scheduler it was given.
type Manager struct {
	opts Options
	log  *slog.Logger
	now  func() time.Time

	// shared is the outbox when it can store a record with its messages
	// in one commit; nil when it cannot.
	shared sharedOutbox

	mu sync.Mutex
	// working holds a lock per fingerprint being worked on. It serialises
	// the work on one alert, I/O included, because each step reads the
	// record the one before stored; different alerts never wait for each
	// other, so their writes meet in the store's shared commits.
	working  map[string]*fpLock
	open     map[string]*Record // by fingerprint
	byID     map[string]string  // short id → fingerprint
	recent   map[string]time.Time
	groups   map[string]*group
	silences []Silence
	// refused holds the room and topic pairs the policy refused, so each
	// is logged once rather than once per alert.
	refused map[string]bool

	notified *metrics.CounterVec
	dropped  *metrics.CounterVec
}

// fpLock is the lock of one fingerprint and how many hold or wait for it,
// so it is dropped from working once nobody does.
type fpLock struct {
	sync.Mutex
	users int
}

type group struct {
	id        string
	end       time.Time
	sent      int
	scheduled bool
}

// New returns a Manager. It does no I/O; it registers its scheduler
// handlers, so it must be called before the scheduler runs.
func New(opts Options) (*Manager, error) {
	if opts.Store == nil || opts.Outbox == nil {
		return nil, errors.New("alert: a store and an outbox are required")
	}
	escalates := slices.ContainsFunc(opts.Rules, func(r Rule) bool { return r.Escalate != nil })
	if opts.Scheduler == nil && (opts.GroupWindow > 0 || escalates) {
		return nil, errors.New("alert: grouping and escalation need a scheduler")
	}
	if opts.GroupMax < 1 {
		opts.GroupMax = 1
	}
	if opts.Retention <= 0 {
		opts.Retention = 7 * 24 * time.Hour
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	m := &Manager{
		opts: opts, log: opts.Logger, now: opts.Now,
		working: map[string]*fpLock{}, open: map[string]*Record{}, byID: map[string]string{},
		recent: map[string]time.Time{}, groups: map[string]*group{}, refused: map[string]bool{},
		notified: metrics.NewCounterVec("seipbot_alerts_notified_total", "Alert messages handed to the outbox, by kind.", "kind"),
		dropped: metrics.NewCounterVec("seipbot_alerts_dropped_total",
			"Alerts accepted but not announced, by reason; \"policy\" counts each room the access policy kept a message from.", "reason"),
	}
	if opts.Registerer != nil {
		open := metrics.NewGaugeFunc("seipbot_alerts_open", "Alerts firing and not resolved.", func() float64 {
			m.mu.Lock()
			defer m.mu.Unlock()
			return float64(len(m.open))
		})
		for _, c := range []metrics.Collector{m.notified, m.dropped, open} {
			if err := opts.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("alert: metrics: %w", err)
			}
		}
	}
	if o, ok := opts.Outbox.(sharedOutbox); ok && o.Store() == opts.Store {
		m.shared = o
	}
	if opts.Scheduler != nil {
		opts.Scheduler.Handle(kindEscalate, m.escalate)
		opts.Scheduler.Handle(kindStorm, m.storm)
	}
	return m, nil
}

// Load reads the open alerts and silences a previous run stored.
func (m *Manager) Load(ctx context.Context) error {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	err := m.opts.Store.Scan(ctx, openPrefix, func(key string, v []byte) error {
		rec := &Record{}
		if err := json.Unmarshal(v, rec); err != nil {
			m.log.Error("alert: skipping an unreadable record", "key", key, "err", err)
			return nil
		}
		m.open[rec.Fingerprint] = rec
		m.byID[rec.ID] = rec.Fingerprint
		return nil
	})
	if err != nil {
		return fmt.Errorf("alert: load: %w", err)
	}
	err = m.opts.Store.Scan(ctx, silencePrefix, func(key string, v []byte) error {
		var s Silence
		if err := json.Unmarshal(v, &s); err != nil {
			m.log.Error("alert: skipping an unreadable silence", "key", key, "err", err)
			return nil
		}
		if s.matchers, err = ParseMatchers(s.Matchers); err == nil && s.Until.After(now) {
			m.silences = append(m.silences, s)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("alert: load: %w", err)
	}
	return nil
}

// Accept routes and records alerts, and returns once what they cause is
// stored: the open alert and every message about it. An error means some
// may not be; the caller should have its source send them again, which
// is safe because repeats are deduplicated.
func (m *Manager) Accept(ctx context.Context, alerts ...Alert) error {
	var errs []error
	for i := range alerts {
		if err := m.accept(ctx, &alerts[i]); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// lock waits for the work on fp to be the caller's alone, and returns the
// function that ends it.
func (m *Manager) lock(fp string) (unlock func()) {
	m.mu.Lock()
	l := m.working[fp]
	if l == nil {
		l = &fpLock{}
		m.working[fp] = l
	}
	l.users++
	m.mu.Unlock()
	l.Lock()
	return func() {
		l.Unlock()
		m.mu.Lock()
		if l.users--; l.users == 0 {
			delete(m.working, fp)
		}
		m.mu.Unlock()
	}
}

func (m *Manager) drop(reason string) { m.dropped.WithLabelValues(reason).Inc() }

// permitted returns the destinations the policy lets receive a, counting
// each refused one and logging each refused room and topic once.
func (m *Manager) permitted(a *Alert, dests []Destination) []Destination {
	if m.opts.MayNotify == nil {
		return dests
	}
	topic := "alerts." + a.Source
	var out []Destination
	for _, d := range dests {
		if m.opts.MayNotify(d.Room, topic) {
			out = append(out, d)
			continue
		}
		m.drop("policy")
		key := d.Room + "\x00" + topic
		m.mu.Lock()
		first := !m.refused[key]
		m.refused[key] = true
		m.mu.Unlock()
		if first {
			m.log.Warn("alert: the access policy keeps these alerts from this room; add an access.notifications rule if it should have them", "room", roomName(d), "topic", topic)
		}
	}
	return out
}

func (m *Manager) accept(ctx context.Context, a *Alert) error {
	if a.Status == "" {
		a.Status = Firing
	}
	now := m.now()
	fp := a.ID()
	dests, esc := route(m.opts.Rules, a)
	if len(dests) == 0 {
		m.drop("unrouted")
		return nil
	}
	if m.silenced(a, now) {
		m.drop("silenced")
		return nil
	}
	dests = m.permitted(a, dests)
	// A resolution still closes the open alert when no room may hear of
	// it; anything else no room may hear is not kept, since nobody could
	// see it to acknowledge it.
	if len(dests) == 0 && a.Status != Resolved {
		return nil
	}
	defer m.lock(fp)()

	if a.Notice {
		return m.notice(ctx, a, fp, dests, now)
	}
	m.mu.Lock()
	rec := m.open[fp]
	m.mu.Unlock()
	if a.Status == Resolved {
		return m.resolve(ctx, rec, a, dests, now)
	}
	if rec != nil {
		return m.repeat(ctx, rec, a, dests, now)
	}

	rec = &Record{ID: m.newID(), Fingerprint: fp, Alert: *a, FirstSeen: now, LastSeen: now, Count: 1}
	if m.hold(ctx, rec, now) {
		m.drop("grouped")
		return m.put(ctx, rec)
	}
	rec.Notified = now
	for _, d := range dests {
		rec.Rooms = append(rec.Rooms, roomName(d))
	}
	// The escalation is scheduled first so that the record stored with the
	// messages names it. Should storing fail, the entry finds no record
	// with its alert's id and sends nothing.
	if esc != nil {
		payload, _ := json.Marshal(escalation{Fingerprint: fp, ID: rec.ID, Adapter: esc.To.Adapter, Room: esc.To.Room})
		e, err := m.opts.Scheduler.At(ctx, now.Add(esc.After), kindEscalate, payload)
		if err != nil {
			return fmt.Errorf("alert: schedule escalation: %w", err)
		}
		rec.Escalation = e.ID
	}
	return m.send(ctx, rec, dests, View{Alert: *a, Kind: KindNew, ID: rec.ID, Count: 1, Since: now}, true)
}

// notice announces a notice unless the same one was announced within the
// dedup window; notices are not kept open.
func (m *Manager) notice(ctx context.Context, a *Alert, fp string, dests []Destination, now time.Time) error {
	m.mu.Lock()
	last, seen := m.recent[fp]
	if seen && now.Sub(last) < m.opts.DedupWindow {
		m.mu.Unlock()
		m.drop("duplicate")
		return nil
	}
	if len(m.recent) > 4096 {
		for k, t := range m.recent {
			if now.Sub(t) >= m.opts.DedupWindow {
				delete(m.recent, k)
			}
		}
	}
	m.mu.Unlock()
	// The time in the id keeps a later, wanted repeat of the notice from
	// replacing this one in the outbox.
	rec := &Record{ID: fmt.Sprintf("notice-%s-%d", fp, now.UnixNano())}
	if err := m.send(ctx, rec, dests, View{Alert: *a, Kind: KindNew, Count: 1, Since: now}, false); err != nil {
		return err
	}
	m.mu.Lock()
	m.recent[fp] = now
	m.mu.Unlock()
	return nil
}

func (m *Manager) repeat(ctx context.Context, rec *Record, a *Alert, dests []Destination, now time.Time) error {
	rec.Count++
	rec.LastSeen = now
	rec.Alert = *a
	if rec.Group != "" || now.Sub(rec.Notified) < m.opts.DedupWindow || m.opts.DedupWindow == 0 {
		m.drop("duplicate")
		return m.put(ctx, rec)
	}
	rec.Notified = now
	return m.send(ctx, rec, dests, View{Alert: *a, Kind: KindRepeat, ID: rec.ID, Count: rec.Count, Since: rec.FirstSeen}, true)
}

func (m *Manager) resolve(ctx context.Context, rec *Record, a *Alert, dests []Destination, now time.Time) error {
	if rec == nil {
		m.drop("resolved_unknown")
		return nil
	}
	if rec.Group != "" {
		// Held back in a storm: 500 follow-ups would be the storm again.
		m.drop("grouped")
	} else if len(dests) > 0 {
		v := View{Alert: *a, Kind: KindResolved, ID: rec.ID, Count: rec.Count, Since: rec.FirstSeen, For: now.Sub(rec.FirstSeen)}
		if err := m.send(ctx, rec, dests, v, false); err != nil {
			return err
		}
	}
	m.cancelEscalation(ctx, rec)
	if err := m.opts.Store.Delete(ctx, openPrefix+rec.Fingerprint); err != nil {
		return fmt.Errorf("alert: store: %w", err)
	}
	m.mu.Lock()
	delete(m.open, rec.Fingerprint)
	delete(m.byID, rec.ID)
	m.mu.Unlock()
	return nil
}

// hold decides whether rec is one alert too many in its group's window,
// and if so marks it and makes sure a summary is scheduled.
func (m *Manager) hold(ctx context.Context, rec *Record, now time.Time) bool {
	if m.opts.GroupWindow <= 0 {
		return false
	}
	key := rec.Alert.groupKey()
	m.mu.Lock()
	g := m.groups[key]
	if g == nil || !now.Before(g.end) {
		if len(m.groups) > 1024 {
			for k, o := range m.groups {
				if !now.Before(o.end) {
					delete(m.groups, k)
				}
			}
		}
		g = &group{id: rec.ID, end: now.Add(m.opts.GroupWindow)}
		m.groups[key] = g
	}
	if g.sent < m.opts.GroupMax {
		g.sent++
		m.mu.Unlock()
		return false
	}
	rec.Group = g.id
	schedule := !g.scheduled
	g.scheduled = true
	end := g.end
	m.mu.Unlock()
	if schedule {
		payload, _ := json.Marshal(storm{Group: rec.Group, Fingerprint: rec.Fingerprint})
		if _, err := m.opts.Scheduler.At(ctx, end, kindStorm, payload); err != nil {
			m.log.Error("alert: storm summary not scheduled", "group", rec.Group, "err", err)
			m.mu.Lock()
			g.scheduled = false
			m.mu.Unlock()
		}
	}
	return true
}

// send renders v for each destination and stores each message in the
// outbox; with keep it also stores rec, as put does. The messages and the
// record go in one commit when the outbox shares the manager's store, and
// otherwise the messages first.
func (m *Manager) send(ctx context.Context, rec *Record, dests []Destination, v View, keep bool) error {
	rec.Sent++
	// An alert someone should act on offers the acknowledgement as a
	// button; a click is the clicker typing "ack <id>", with its checks.
	var buttons []bot.Button
	if v.ID != "" && !v.Alert.Notice && (v.Kind == KindNew || v.Kind == KindRepeat || v.Kind == KindEscalated) {
		buttons = []bot.Button{{Label: "Acknowledge", Value: "ack " + v.ID}}
	}
	msgs := make([]bot.Durable, len(dests))
	for i, d := range dests {
		msgs[i] = bot.Durable{ID: fmt.Sprintf("alert-%s-%d-%d", rec.ID, rec.Sent, i),
			Response: bot.Response{
				Adapter: d.Adapter, Room: d.Room, Text: m.render(d, v), Buttons: buttons,
				// Every message about one alert in one room shares a key, so
				// on adapters that can edit, the resolution updates the
				// alert's message in place (and drops its button) rather
				// than adding another line; elsewhere it is posted anew.
				Key: fmt.Sprintf("alert-%s-%d", rec.ID, i), Replace: v.Kind == KindResolved,
			}}
	}
	if keep && m.shared != nil {
		e, err := m.entry(rec)
		if err != nil {
			return err
		}
		if err := m.shared.SendDurableWith(ctx, msgs, e); err != nil {
			return fmt.Errorf("alert: %w", err)
		}
		m.remember(rec)
	} else {
		for _, msg := range msgs {
			if err := m.opts.Outbox.SendDurable(ctx, msg.ID, msg.Response); err != nil {
				return fmt.Errorf("alert: %w", err)
			}
		}
		if keep {
			if err := m.put(ctx, rec); err != nil {
				return err
			}
		}
	}
	m.notified.WithLabelValues(string(v.Kind)).Inc()
	return nil
}

// entry returns the store record of rec.
func (m *Manager) entry(rec *Record) (store.Entry, error) {
	b, err := json.Marshal(rec)
	if err != nil {
		return store.Entry{}, fmt.Errorf("alert: encode: %w", err)
	}
	return store.Entry{Key: openPrefix + rec.Fingerprint, Value: b, TTL: m.opts.Retention}, nil
}

// put stores rec and then keeps it among the open alerts.
func (m *Manager) put(ctx context.Context, rec *Record) error {
	e, err := m.entry(rec)
	if err != nil {
		return err
	}
	if err := m.opts.Store.Put(ctx, e.Key, e.Value, e.TTL); err != nil {
		return fmt.Errorf("alert: store: %w", err)
	}
	m.remember(rec)
	return nil
}

// remember keeps rec, stored, among the open alerts.
func (m *Manager) remember(rec *Record) {
	m.mu.Lock()
	m.open[rec.Fingerprint] = rec
	m.byID[rec.ID] = rec.Fingerprint
	m.mu.Unlock()
}

func roomName(d Destination) string {
	if d.Adapter == "" {
		return d.Room
	}
	return d.Adapter + "/" + d.Room
}

var idAlphabet = "abcdefghjkmnpqrstuvwxyz23456789"

// newID returns a six-character id that is not in use, short enough to
// type in "ack".
func (m *Manager) newID() string {
	for {
		var b [6]byte
		rand.Read(b[:])
		for i := range b {
			b[i] = idAlphabet[int(b[i])%len(idAlphabet)]
		}
		id := string(b[:])
		m.mu.Lock()
		_, taken := m.byID[id]
		m.mu.Unlock()
		if !taken {
			return id
		}
	}
}

// Open returns the open alerts that were announced or held in a storm,
// newest first.
func (m *Manager) Open() []Record {
	m.mu.Lock()
	list := make([]Record, 0, len(m.open))
	for _, r := range m.open {
		list = append(list, *r)
	}
	m.mu.Unlock()
	slices.SortFunc(list, func(a, b Record) int { return b.FirstSeen.Compare(a.FirstSeen) })
	return list
}

// ErrNoAlert is returned for an id that names no open alert.
var ErrNoAlert = errors.New("alert: no open alert with that id")

// Ack marks the open alert id as acknowledged by who, which stops its
// escalation.
func (m *Manager) Ack(ctx context.Context, id, who, note string) (Record, error) {
	id = strings.ToLower(strings.TrimSpace(id))
	m.mu.Lock()
	fp, ok := m.byID[id]
	m.mu.Unlock()
	if !ok {
		return Record{}, ErrNoAlert
	}
	defer m.lock(fp)()
	m.mu.Lock()
	rec := m.open[fp]
	m.mu.Unlock()
	if rec == nil {
		return Record{}, ErrNoAlert
	}
	rec.AckedBy, rec.AckNote, rec.AckedAt = who, note, m.now()
	m.cancelEscalation(ctx, rec)
	if err := m.put(ctx, rec); err != nil {
		return Record{}, err
	}
	return *rec, nil
}

func (m *Manager) cancelEscalation(ctx context.Context, rec *Record) {
	if rec.Escalation == "" {
		return
	}
	if err := m.opts.Scheduler.Cancel(ctx, rec.Escalation); err != nil && !errors.Is(err, schedule.ErrNoEntry) {
		// The escalation handler checks the record again, so a stale
		// entry sends nothing.
		m.log.Warn("alert: escalation not cancelled", "id", rec.ID, "err", err)
	}
	rec.Escalation = ""
}

// Silence keeps alerts that match matchers, or the open alert whose id is
// given, out of the rooms for d.
func (m *Manager) Silence(ctx context.Context, matchers string, d time.Duration, by string) (Silence, error) {
	m.mu.Lock()
	fp, isID := m.byID[strings.ToLower(strings.TrimSpace(matchers))]
	var rec Record
	if isID {
		rec = *m.open[fp]
	}
	m.mu.Unlock()
	if isID {
		// Silencing one alert means silencing its identity, whichever
		// fields made it.
		matchers = "source=" + rec.Alert.Source + ",fingerprint=" + fp
	}
	ms, err := ParseMatchers(matchers)
	if err != nil {
		return Silence{}, err
	}
	s := Silence{ID: m.newID(), Matchers: ms.String(), By: by, Until: m.now().Add(d), matchers: ms}
	b, err := json.Marshal(s)
	if err != nil {
		return Silence{}, err
	}
	if err := m.opts.Store.Put(ctx, silencePrefix+s.ID, b, d); err != nil {
		return Silence{}, fmt.Errorf("alert: store: %w", err)
	}
	m.mu.Lock()
	m.silences = append(m.silences, s)
	m.mu.Unlock()
	return s, nil
}

// Silences returns the silences in force.
func (m *Manager) Silences() []Silence {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.silences = slices.DeleteFunc(m.silences, func(s Silence) bool { return !s.Until.After(now) })
	return slices.Clone(m.silences)
}

func (m *Manager) silenced(a *Alert, now time.Time) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.silences) == 0 {
		return false
	}
	fp := ""
	for _, s := range m.silences {
		if !s.Until.After(now) {
			continue
		}
		if slices.ContainsFunc(s.matchers, func(x Matcher) bool { return x.Key == "fingerprint" }) {
			if fp == "" {
				fp = a.ID()
			}
			withFP := *a
			withFP.Labels = map[string]string{"fingerprint": fp}
			for k, v := range a.Labels {
				withFP.Labels[k] = v
			}
			if s.matchers.Match(&withFP) {
				return true
			}
			continue
		}
		if s.matchers.Match(a) {
			return true
		}
	}
	return false
}

// escalation is the payload of an escalation entry.
type escalation struct {
	Fingerprint string `json:"fp"`
	ID          string `json:"id"`
	Adapter     string `json:"adapter,omitempty"`
	Room        string `json:"room"`
}

// escalate tells the escalation room about an alert still open and not
// acknowledged.
func (m *Manager) escalate(ctx context.Context, e schedule.Entry, _ bool) error {
	var p escalation
	if err := json.Unmarshal(e.Payload, &p); err != nil {
		return fmt.Errorf("alert: escalation %s: %w", e.ID, err)
	}
	defer m.lock(p.Fingerprint)()
	m.mu.Lock()
	rec := m.open[p.Fingerprint]
	m.mu.Unlock()
	if rec == nil || rec.ID != p.ID || !rec.AckedAt.IsZero() {
		return nil
	}
	// The policy is asked when the escalation is due, not when it was
	// scheduled, so an entry from before a policy change obeys the new one.
	d := Destination{Adapter: p.Adapter, Room: p.Room}
	if len(m.permitted(&rec.Alert, []Destination{d})) == 0 {
		return nil
	}
	v := View{Alert: rec.Alert, Kind: KindEscalated, ID: rec.ID, Count: rec.Count, Since: rec.FirstSeen, For: m.now().Sub(rec.FirstSeen), Rooms: rec.Rooms}
	// The record is stored without the entry that is running; if that
	// fails, Ack must still find the entry to cancel.
	pending := rec.Escalation
	rec.Escalation = ""
	if err := m.send(ctx, rec, []Destination{d}, v, true); err != nil {
		rec.Escalation = pending
		return err
	}
	return nil
}

// storm is the payload of a storm summary entry.
type storm struct {
	Group       string `json:"group"`
	Fingerprint string `json:"fp"` // one alert held back, to route the summary
}

// storm sends one summary of the alerts held back in a group.
func (m *Manager) storm(ctx context.Context, e schedule.Entry, _ bool) error {
	var p storm
	if err := json.Unmarshal(e.Payload, &p); err != nil {
		return fmt.Errorf("alert: storm %s: %w", e.ID, err)
	}
	m.mu.Lock()
	var sample *Record
	n := 0
	for _, r := range m.open {
		if r.Group == p.Group {
			n++
			if sample == nil || r.Fingerprint == p.Fingerprint {
				sample = r
			}
		}
	}
	m.mu.Unlock()
	if n == 0 {
		return nil // all resolved before the window closed
	}
	a := sample.Alert
	dests, _ := route(m.opts.Rules, &a)
	dests = m.permitted(&a, dests)
	if len(dests) == 0 {
		return nil
	}
	summary := &Record{ID: "storm-" + p.Group}
	return m.send(ctx, summary, dests, View{Alert: a, Kind: KindStorm, Count: n, Since: sample.FirstSeen}, false)
}
