package bot

import (
	"container/list"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/seipbot/seipbot/store"
)

// outboxPrefix is where durable items wait in the store.
const outboxPrefix = "outbox/"

// Outbox is the one way out of the bot. Every response waits in a queue per
// destination room, which keeps the room's order, and is retried with
// backoff until its adapter accepts it. What the bot accepted on its own
// account (a reminder, an alert, a job result) is sent durably: stored
// before SendDurable returns and delivered after a restart if the process
// dies first.
type Outbox struct {
	st      store.Store
	log     *slog.Logger
	metrics Metrics // nil: not measured
	backoff Backoff

	mu       sync.Mutex
	adapters map[string]Adapter
	first    string
	queues   map[dest]*outQueue
	durable  map[string]bool // ids of durable items queued, so none is queued twice
	pending  int
	waiters  []chan struct{}
	runCtx   context.Context // set by Run; nil before
	loaded   chan struct{}   // closed once Run has queued the stored items
	loadOnce sync.Once       // Run may be called again after it returns
	seq      uint64

	// shared, when set, gives the queue that holds the durable items for
	// each adapter instead of the store: the bot is one of several
	// replicas, and each item is delivered by the one that takes it (see
	// ShareThrough).
	shared    func(adapter string) WorkQueue
	keepEvery time.Duration
	// taken holds, per adapter, the queue ids of the items this replica
	// took and has not yet delivered.
	taken map[string]map[string]bool

	// refs remembers, for each Response.Key in each conversation and
	// thread, the message it was last delivered as, so a later Replace
	// can edit it, when the outbox has no store (see refPrefix); refOrder
	// keeps it to maxRefs keys, the least recently used dropped first.
	refs     map[string]*list.Element
	refOrder *list.List
}

// maxRefs bounds the keys the outbox remembers messages for in memory.
const maxRefs = 10000

// refPrefix is where the outbox keeps, in its store, the message each
// Response.Key last went to, for refTTL after it was last posted: a
// replica other than the one that posted it, or the bot after a restart,
// then edits that message rather than posting another. The store holds the
// truth, so no replica edits a message another has since replaced. Its
// keys are hashes of the conversation, thread and Response.Key, which stay
// out of the store's keys, unsealed as keys are.
const refPrefix = "outboxref/"

const refTTL = 7 * 24 * time.Hour

// sentRef is the adapter's reference to the message a keyed response
// became, under its refKey.
type sentRef struct {
	key, ref string
}

// Backoff bounds the delay between delivery attempts.
type Backoff struct {
	Min, Max time.Duration
}

type outQueue struct {
	items   []*outItem
	running bool
}

type outItem struct {
	ID       string    `json:"id"`
	Seq      uint64    `json:"seq"`
	Queued   time.Time `json:"queued"`
	Response Response  `json:"response"`
	durable  bool
	// q and qid are the shared queue the item came from and its id there;
	// nil and empty for an item kept in the store.
	q   WorkQueue
	qid string
}

// NewOutbox returns an outbox that keeps durable items in st (nil keeps
// nothing across restarts).
func NewOutbox(st store.Store, log *slog.Logger, b Backoff) *Outbox {
	if b.Min <= 0 {
		b.Min = 200 * time.Millisecond
	}
	if b.Max < b.Min {
		b.Max = 30 * time.Second
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Outbox{st: st, log: log, backoff: b, adapters: map[string]Adapter{}, queues: map[dest]*outQueue{}, durable: map[string]bool{}, loaded: make(chan struct{}),
		refs: map[string]*list.Element{}, refOrder: list.New(), taken: map[string]map[string]bool{}}
}

// ShareThrough makes queues shared with the bot's other replicas hold the
// durable items instead of the store, one queue per adapter, which
// queueFor returns (it is called once per adapter). Each item is delivered
// by the replica that takes it, and one whose replica dies is taken over
// by another, instead of every replica loading every stored item at start.
// A replica takes items for an adapter only while the adapter is present
// there (see Standby). The outbox tells each queue every keepEvery that it
// is still delivering what it took, so a queue's idle limit must be
// several times keepEvery. Order holds per room among the items one
// replica takes, not across replicas. Call it before Run.
func (o *Outbox) ShareThrough(queueFor func(adapter string) WorkQueue, keepEvery time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	queues := map[string]WorkQueue{}
	o.shared = func(adapter string) WorkQueue {
		q, ok := queues[adapter]
		if !ok {
			q = queueFor(adapter)
			queues[adapter] = q
		}
		return q
	}
	o.keepEvery = keepEvery
}

// AddAdapter makes a delivers through a. The first adapter added receives
// responses that name none.
func (o *Outbox) AddAdapter(a Adapter) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.first == "" {
		o.first = a.Name()
	}
	o.adapters[a.Name()] = a
}

// Send queues r for delivery. It does not wait for the chat server.
func (o *Outbox) Send(_ context.Context, r Response) error {
	o.enqueue(&outItem{Response: r})
	return nil
}

// SendDurable stores r under id before queueing it, so it is delivered even
// if the process dies first. Sending again with the same id replaces the
// stored item rather than adding another (on a shared queue, is dropped
// for as long as the queue remembers the id); an empty id gets a fresh
// one.
func (o *Outbox) SendDurable(ctx context.Context, id string, r Response) error {
	if o.st == nil {
		return o.Send(ctx, r)
	}
	return o.SendDurableWith(ctx, []Durable{{ID: id, Response: r}})
}

// Durable is a response for SendDurableWith and the id it is stored under,
// as SendDurable takes them.
type Durable struct {
	ID       string
	Response Response
}

// SendDurableWith sends items durably, as SendDurable does, and stores
// records, the caller's own, in the outbox's store along with them: in one
// write when the store is a store.Batcher, so that what the caller keeps
// and the messages it causes reach the disk together, for the price of one
// commit. Otherwise the items are stored first, then the records. The
// items are queued, in order, only once all is stored. It needs a store.
func (o *Outbox) SendDurableWith(ctx context.Context, items []Durable, records ...store.Entry) error {
	if o.st == nil {
		return errors.New("outbox: durable sending needs a store")
	}
	now := time.Now().UTC()
	queued := make([]*outItem, len(items))
	o.mu.Lock()
	for i, d := range items {
		if d.ID == "" {
			d.ID = newID()
		}
		o.seq++
		queued[i] = &outItem{ID: d.ID, Seq: o.seq, Queued: now, Response: d.Response, durable: true}
	}
	o.mu.Unlock()
	if o.shared != nil {
		return o.enqueueShared(ctx, queued, records)
	}
	entries := make([]store.Entry, 0, len(items)+len(records))
	for _, it := range queued {
		b, err := json.Marshal(it)
		if err != nil {
			return fmt.Errorf("outbox: encode: %w", err)
		}
		entries = append(entries, store.Entry{Key: outboxPrefix + it.ID, Value: b})
	}
	if err := store.PutAll(ctx, o.st, append(entries, records...)); err != nil {
		return fmt.Errorf("outbox: store: %w", err)
	}
	for _, it := range queued {
		o.enqueue(it)
	}
	return nil
}

// Store returns the store durable items are kept in, nil for none, so a
// caller can tell whether its records may go with them (see
// SendDurableWith).
func (o *Outbox) Store() store.Store { return o.st }

func (o *Outbox) enqueue(it *outItem) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if it.durable {
		if o.durable[it.ID] {
			return
		}
		o.durable[it.ID] = true
	}
	if it.Response.Adapter == "" {
		it.Response.Adapter = o.first
	}
	key := destinationOf(it.Response)
	q := o.queues[key]
	if q == nil {
		q = &outQueue{}
		o.queues[key] = q
	}
	q.items = append(q.items, it)
	o.pending++
	o.startLocked(key, q)
}

// dest names the conversation a response goes to: a room, or a user's
// direct conversation. Each has its own queue; a struct, not a joined
// string, keys them so that queueing a reply allocates nothing for it.
type dest struct {
	adapter string
	direct  bool
	to      string // the room, or the user when direct
}

func destinationOf(r Response) dest {
	if r.Direct {
		return dest{r.Adapter, true, r.User}
	}
	return dest{r.Adapter, false, r.Room}
}

// destination is the conversation r goes to, as a string.
func destination(r Response) string {
	if r.Direct {
		return r.Adapter + "\x00dm\x00" + r.User
	}
	return r.Adapter + "\x00" + r.Room
}

// startLocked starts the queue's delivery goroutine once Run has begun.
func (o *Outbox) startLocked(key dest, q *outQueue) {
	if o.runCtx == nil || q.running || len(q.items) == 0 {
		return
	}
	q.running = true
	go o.deliver(o.runCtx, key, q)
}

// Run loads the durable items left by an earlier process, then delivers
// until ctx is cancelled. With a shared queue it instead takes durable
// items from the queue as they come.
func (o *Outbox) Run(ctx context.Context) error {
	var left []*outItem
	if o.st != nil && o.shared == nil {
		var err error
		left, err = o.loadStored(ctx)
		if err != nil {
			if ctx.Err() != nil {
				// Stopped before it finished loading: what was stored stays
				// stored for the next Run.
				return nil
			}
			return fmt.Errorf("outbox: load: %w", err)
		}
	}
	o.mu.Lock()
	o.runCtx = ctx
	o.mu.Unlock()
	for _, it := range left {
		o.enqueue(it)
	}
	o.mu.Lock()
	for key, q := range o.queues {
		o.startLocked(key, q)
	}
	o.mu.Unlock()
	o.loadOnce.Do(func() { close(o.loaded) })
	if o.shared != nil {
		var wg sync.WaitGroup
		if o.st != nil {
			wg.Go(func() { o.moveStored(ctx) })
		}
		o.take(ctx)
		wg.Wait()
		return nil
	}
	<-ctx.Done()
	return nil
}

// loadStored returns the durable items kept in the store, oldest first.
// An item that does not decode is logged and left where it is.
func (o *Outbox) loadStored(ctx context.Context) ([]*outItem, error) {
	var items []*outItem
	err := o.st.Scan(ctx, outboxPrefix, func(key string, v []byte) error {
		it := &outItem{durable: true}
		if err := json.Unmarshal(v, it); err != nil {
			o.log.Error("outbox: dropping an unreadable item", "key", key, "err", err)
			return nil
		}
		items = append(items, it)
		return nil
	})
	slices.SortFunc(items, func(a, b *outItem) int {
		if c := a.Queued.Compare(b.Queued); c != 0 {
			return c
		}
		return int(a.Seq) - int(b.Seq)
	})
	return items, err
}

func (o *Outbox) deliver(ctx context.Context, key dest, q *outQueue) {
	for {
		o.mu.Lock()
		if len(q.items) == 0 {
			q.running = false
			delete(o.queues, key)
			o.mu.Unlock()
			return
		}
		it := q.items[0]
		a := o.adapters[it.Response.Adapter]
		o.mu.Unlock()

		if !o.attempt(ctx, a, it) {
			o.mu.Lock()
			q.running = false
			o.mu.Unlock()
			return // ctx ended; the item stays queued (and stored, if durable)
		}
		o.mu.Lock()
		q.items[0] = nil
		q.items = q.items[1:]
		delete(o.durable, it.ID)
		o.pending--
		if o.pending == 0 {
			for _, w := range o.waiters {
				close(w)
			}
			o.waiters = nil
		}
		o.mu.Unlock()
	}
}

// attempt delivers it, retrying with backoff, and reports whether the item
// is done with (delivered, or failed for good).
func (o *Outbox) attempt(ctx context.Context, a Adapter, it *outItem) bool {
	delay := o.backoff.Min
	for tries := 1; ; tries++ {
		var err error
		if a == nil {
			err = Permanent(fmt.Errorf("no adapter named %q", it.Response.Adapter))
		} else {
			err = o.send(ctx, a, it.Response)
			if f, ok := a.(Flusher); ok && err == nil && it.durable {
				// The stored item goes only once the adapter has really
				// written it out, not merely buffered it.
				err = f.Flush()
			}
		}
		if o.metrics != nil && a != nil {
			o.metrics.Delivered(a.Name(), err)
		}
		if err == nil || IsPermanent(err) {
			if err != nil {
				o.log.Error("outbox: giving up on a response", "adapter", it.Response.Adapter, "room", it.Response.Room, "err", err)
			}
			if it.durable {
				o.forget(context.WithoutCancel(ctx), it)
			}
			return true
		}
		wait := max(delay, retryDelay(err))
		o.log.Warn("outbox: delivery failed, will retry", "adapter", it.Response.Adapter, "attempt", tries, "retry_in", wait, "err", err)
		if !Sleep(ctx, wait) {
			return false
		}
		delay = min(delay*2, o.backoff.Max)
	}
}

// forget removes the durable item it, delivered or given up on, from where
// it waited.
func (o *Outbox) forget(ctx context.Context, it *outItem) {
	var err error
	if it.q != nil {
		err = it.q.Ack(ctx, it.qid)
		o.mu.Lock()
		delete(o.taken[it.Response.Adapter], it.qid)
		o.mu.Unlock()
	} else {
		err = o.st.Delete(ctx, outboxPrefix+it.ID)
	}
	if err != nil {
		o.log.Error("outbox: delivered item not removed; it may be sent again", "id", it.ID, "err", err)
	}
}

// send delivers r through a: as an edit of the message last delivered under
// r.Key when r asks to replace it and a can edit, else as a new message,
// whose reference is remembered when a can give one.
func (o *Outbox) send(ctx context.Context, a Adapter, r Response) error {
	if ed, ok := a.(Editor); ok && r.Replace && r.Key != "" {
		if ref := o.lookupRef(ctx, r); ref != "" {
			err := ed.Edit(ctx, ref, r)
			if err == nil || !IsPermanent(err) {
				return err // done, or retried as an edit
			}
			// The message cannot take r (deleted, or r is too long for
			// one message): say it anew rather than not at all.
			o.log.Info("outbox: posting instead of editing", "adapter", r.Adapter, "key", r.Key, "err", err)
			o.forgetRef(ctx, r)
		}
	}
	p, ok := a.(Poster)
	if !ok {
		return a.Send(ctx, r)
	}
	ref, err := p.Post(ctx, r)
	if err == nil && r.Key != "" {
		o.rememberRef(ctx, r, ref)
	}
	return err
}

// refKey names the message r.Key last went to in r's conversation and
// thread. Each conversation keeps its own: the rooms' queues run side by
// side, so a key's message in one room must not be forgotten because the
// same key was just posted in another.
func refKey(r Response) string {
	return destination(r) + "\x00" + r.Thread + "\x00" + r.Key
}

// refStoreKey is where the reference refKey(r) names is kept in the store.
func refStoreKey(r Response) string {
	sum := sha256.Sum256([]byte(refKey(r)))
	return refPrefix + hex.EncodeToString(sum[:16])
}

// lookupRef returns the reference of the message r.Key names in r's
// conversation, if there is one.
func (o *Outbox) lookupRef(ctx context.Context, r Response) string {
	if o.st != nil {
		ref, err := o.st.Get(ctx, refStoreKey(r))
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			o.log.Warn("outbox: the message to edit could not be looked up; posting anew", "key", r.Key, "err", err)
		}
		return string(ref)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	e, ok := o.refs[refKey(r)]
	if !ok {
		return ""
	}
	o.refOrder.MoveToFront(e)
	return e.Value.(sentRef).ref
}

// rememberRef records that r.Key now names the message ref, in memory
// forgetting the least recently used key beyond maxRefs. An empty ref
// forgets the key, as the message it named is no longer the latest.
func (o *Outbox) rememberRef(ctx context.Context, r Response, ref string) {
	if ref == "" {
		o.forgetRef(ctx, r)
		return
	}
	if o.st != nil {
		// The message is out; without its reference the next Replace
		// posts anew, which the log explains.
		if err := o.st.Put(ctx, refStoreKey(r), []byte(ref), refTTL); err != nil {
			o.log.Warn("outbox: the posted message's reference was not kept; the next update will be posted anew", "key", r.Key, "err", err)
		}
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	k := refKey(r)
	if e, ok := o.refs[k]; ok {
		e.Value = sentRef{key: k, ref: ref}
		o.refOrder.MoveToFront(e)
		return
	}
	o.refs[k] = o.refOrder.PushFront(sentRef{key: k, ref: ref})
	for o.refOrder.Len() > maxRefs {
		old := o.refOrder.Back()
		o.refOrder.Remove(old)
		delete(o.refs, old.Value.(sentRef).key)
	}
}

func (o *Outbox) forgetRef(ctx context.Context, r Response) {
	if o.st != nil {
		if err := o.st.Delete(ctx, refStoreKey(r)); err != nil && !errors.Is(err, store.ErrNotFound) {
			o.log.Warn("outbox: a replaced message's reference was not removed", "key", r.Key, "err", err)
		}
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	k := refKey(r)
	if e, ok := o.refs[k]; ok {
		o.refOrder.Remove(e)
		delete(o.refs, k)
	}
}

// Pending returns how many responses wait for delivery.
func (o *Outbox) Pending() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.pending
}

// Flush waits until Run has loaded the stored items and every queued
// response has been delivered, or ctx ends.
func (o *Outbox) Flush(ctx context.Context) error {
	select {
	case <-o.loaded:
	case <-ctx.Done():
		return fmt.Errorf("outbox: not running: %w", ctx.Err())
	}
	o.mu.Lock()
	if o.pending == 0 {
		o.mu.Unlock()
		return nil
	}
	w := make(chan struct{})
	o.waiters = append(o.waiters, w)
	o.mu.Unlock()
	select {
	case <-w:
		return nil
	case <-ctx.Done():
		return errors.Join(errors.New("outbox: responses still waiting"), ctx.Err())
	}
}

var idEncoding = base32.NewEncoding("abcdefghijkmnpqrstuvwxyz23456789").WithPadding(base32.NoPadding)

// newID returns a random identifier that is short enough to type in chat.
func newID() string {
	var b [10]byte
	rand.Read(b[:])
	return idEncoding.EncodeToString(b[:])
}
