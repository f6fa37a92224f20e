// Package audit keeps seipbot's audit log: an append-only, hash-chained
// record of every command (allowed or refused), approval, policy load and
// key rotation, stored encrypted like all state, and its verifier.
//
// Each record carries the SHA-256 of the record before it, so a record
// altered, removed or moved breaks the chain at that point. Records are
// stored in segments of about 16 KB, under "audit/<first seq>";
// the sealed store binds each segment to its key, so moving one fails to
// open. After each commit a head checkpoint ("audit-head/head") and, every
// CheckpointEvery records, a lasting checkpoint ("audit-cp/<seq>") record
// the sequence number and hash reached, with an HMAC from a key of the
// keyring: a log cut short at its end no longer reaches its head.
//
// Records are written with group commit: Add hands a record to a channel
// and returns, and one writer goroutine stores what is waiting, up to
// BatchSize records, in one commit, so a command's dispatch never waits for
// the disk. Both bounds are small, which bounds the memory a burst takes:
// when the disk falls behind, Add waits rather than the queue growing.
package audit

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/seipbot/seipbot/store"
)

// Record is one audited event. Arguments of commands are as typed, except
// those declared Secret, which read "[masked]".
type Record struct {
	Seq      uint64    `json:"seq"`
	Time     time.Time `json:"time"`
	Kind     string    `json:"kind"` // command, hear, policy, key
	Identity string    `json:"identity,omitempty"`
	Room     string    `json:"room,omitempty"`
	Adapter  string    `json:"adapter,omitempty"`
	Command  string    `json:"command,omitempty"`
	Args     []Arg     `json:"args,omitempty"`
	// Decision is allowed, denied or pending (held for approval).
	Decision string `json:"decision,omitempty"`
	// Result is "ok", or what the user was told when it was not.
	Result     string `json:"result,omitempty"`
	DurationMS int64  `json:"duration_ms"`
	Detail     string `json:"detail,omitempty"`
	// Prev is the hex SHA-256 of the previous record as stored; empty for
	// the first.
	Prev string `json:"prev"`
}

// Arg is one argument of an audited command.
type Arg struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Masked replaces the value of a secret argument.
const Masked = "[masked]"

const (
	recordPrefix     = "audit/"
	checkpointPrefix = "audit-cp/"
	headKey          = "audit-head/head"
)

// recordKey is the key of the segment whose first record is seq; the
// fixed width keeps keys in sequence order.
func recordKey(prefix string, seq uint64) string {
	return fmt.Sprintf("%s%020d", prefix, seq)
}

// checkpoint is a signed statement that the chain reached Seq with Hash.
type checkpoint struct {
	Seq  uint64    `json:"seq"`
	Hash string    `json:"hash"`
	Time time.Time `json:"time"`
	MAC  string    `json:"mac"`
}

func (c checkpoint) mac(key []byte) string {
	h := hmac.New(sha256.New, key)
	fmt.Fprintf(h, "seipbot audit checkpoint\x00%d\x00%s", c.Seq, c.Hash)
	return hex.EncodeToString(h.Sum(nil))
}

// signedBy reports whether one of keys made c's MAC.
func (c checkpoint) signedBy(keys [][]byte) bool {
	for _, k := range keys {
		if hmac.Equal([]byte(c.MAC), []byte(c.mac(k))) {
			return true
		}
	}
	return false
}

func hashOf(line []byte) string {
	sum := sha256.Sum256(line)
	return hex.EncodeToString(sum[:])
}

// Options configure a Log.
type Options struct {
	// Keys sign and check checkpoints: the first signs, every one checks,
	// so checkpoints made before a key rotation still verify. Use the
	// keyring's DeriveAll("audit"). Required.
	Keys [][]byte
	// Mirror, when set, receives each stored record as a JSON line.
	Mirror io.Writer
	Now    func() time.Time
	Logger *slog.Logger
	// BatchSize bounds the records in one commit. Default 1024: a million
	// records a second at a fsync of a millisecond, while each commit's
	// copies (encoded, sealed, framed by the store) stay at a few hundred
	// kilobytes; 4096 made them a megabyte each.
	BatchSize int
	// CheckpointEvery is the number of records between lasting
	// checkpoints. Default 1000.
	CheckpointEvery int
	// Buffer is how many records may wait for the writer before Add
	// blocks: records are never dropped. Default 2048, two commits' worth,
	// to ride out a slow fsync.
	Buffer int
}

// Log appends records to the audit log in a store.
type Log struct {
	st   store.Store
	opts Options

	// Records wait in queue, which the writer takes whole (up to
	// BatchSize) by swapping it with the batch it last wrote: no copy and no
	// channel operation per record, and no buffer of Buffer records held
	// when few are waiting.
	mu      sync.Mutex
	space   sync.Cond // the writer took records, or the log closed
	queue   []Record
	added   uint64      // records queued so far
	written uint64      // records the writer has finished with
	flushes []flushWait // Flush calls waiting for the writer
	entered int         // Add calls past the closed check, not yet queued
	closed  bool
	wake    chan struct{} // one pending wake-up for the writer
	done    chan struct{}

	// Owned by the writer goroutine once Open has returned.
	seq      uint64
	hash     string
	sinceCkp int
	seg      []byte // the segments being built, kept between commits
	cuts     []cut  // where each segment in seg starts
}

// cut is the start of a segment: its offset in the commit's buffer and
// its first record.
type cut struct {
	at  int
	seq uint64
}

// segmentBytes is the size past which a commit starts a new segment. bbolt
// rewrites the last page of keys, with all their values, on every commit;
// segments of a few pages keep that small, where one segment per commit
// made each commit copy several large earlier ones again.
const segmentBytes = 16 << 10

// flushWait is a Flush waiting until the writer has written its target
// record.
type flushWait struct {
	target uint64
	done   chan struct{}
}

// New returns a Log on st. It does no I/O; Open starts it.
func New(st store.Store, opts Options) (*Log, error) {
	if len(opts.Keys) == 0 || len(opts.Keys[0]) == 0 {
		return nil, errors.New("audit: no checkpoint key; pass the keyring's DeriveAll(\"audit\")")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 1024
	}
	if opts.CheckpointEvery <= 0 {
		opts.CheckpointEvery = 1000
	}
	if opts.Buffer <= 0 {
		opts.Buffer = 2048
	}
	l := &Log{st: st, opts: opts, wake: make(chan struct{}, 1), done: make(chan struct{})}
	l.space.L = &l.mu
	return l, nil
}

// Open finds where the log ends and starts the writer. It fails when the
// segment after the head checkpoint is damaged, since new records could
// not then be chained to the old.
func (l *Log) Open(ctx context.Context) error {
	raw, err := l.st.Get(ctx, headKey)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return fmt.Errorf("audit: read head: %w", err)
	default:
		var head checkpoint
		if err := json.Unmarshal(raw, &head); err != nil {
			return fmt.Errorf("audit: head checkpoint: %w", err)
		}
		l.seq, l.hash = head.Seq, head.Hash
	}
	// A crash between storing a segment and the head leaves segments
	// beyond the head; chain on from the last of them.
	for {
		raw, err := l.st.Get(ctx, recordKey(recordPrefix, l.seq+1))
		if errors.Is(err, store.ErrNotFound) {
			break
		}
		if err != nil {
			return fmt.Errorf("audit: the log is damaged after record %d (run \"seipbot audit verify\"): %w", l.seq, err)
		}
		err = eachLine(raw, func(r Record, line []byte) error {
			l.seq, l.hash = r.Seq, hashOf(line)
			return nil
		})
		if err != nil {
			return fmt.Errorf("audit: the log is damaged after record %d (run \"seipbot audit verify\"): %w", l.seq, err)
		}
	}
	go l.write()
	return nil
}

// Add queues r to be written, filling in its time if unset. It blocks only
// while Buffer records wait for the writer. After Close it drops r and
// logs that it did.
func (l *Log) Add(r Record) {
	if r.Time.IsZero() {
		r.Time = l.opts.Now()
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		l.opts.Logger.Error("audit record after the log was closed", "kind", r.Kind, "command", r.Command, "identity", r.Identity)
		return
	}
	// Once past the check, r is stored even if Close comes while it waits:
	// the writer does not stop while an Add is entered.
	l.entered++
	for len(l.queue) >= l.opts.Buffer {
		l.space.Wait()
	}
	l.entered--
	l.queue = append(l.queue, r)
	l.added++
	l.mu.Unlock()
	l.kick()
}

// kick wakes the writer, unless a wake-up is already pending.
func (l *Log) kick() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// Flush returns once every record added before it is stored.
func (l *Log) Flush(ctx context.Context) error {
	l.mu.Lock()
	if l.closed || l.written >= l.added {
		l.mu.Unlock()
		return nil
	}
	done := make(chan struct{})
	l.flushes = append(l.flushes, flushWait{target: l.added, done: done})
	l.mu.Unlock()
	l.kick()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stores what is queued and stops the writer.
func (l *Log) Close() error {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	l.kick()
	<-l.done
	return nil
}

// write is the writer goroutine: it takes whatever has queued up, to
// BatchSize, and stores it in one commit.
func (l *Log) write() {
	defer close(l.done)
	var batch []Record
	for range l.wake {
		for {
			l.mu.Lock()
			n := min(len(l.queue), l.opts.BatchSize)
			if n == 0 {
				stop := l.closed && l.entered == 0
				l.mu.Unlock()
				if stop {
					return
				}
				break
			}
			if n == len(l.queue) {
				batch, l.queue = l.queue, batch[:0]
			} else {
				batch = append(batch[:0], l.queue[:n]...)
				l.queue = l.queue[:copy(l.queue, l.queue[n:])]
			}
			l.space.Broadcast()
			l.mu.Unlock()

			l.commit(batch)
			clear(batch) // drop the records' strings until the slice is reused

			l.mu.Lock()
			l.written += uint64(n)
			waiting := l.flushes[:0]
			for _, f := range l.flushes {
				if f.target <= l.written {
					close(f.done)
				} else {
					waiting = append(waiting, f)
				}
			}
			l.flushes = waiting
			l.mu.Unlock()
		}
	}
}

// commit chains batch onto the log and stores it, then the checkpoints.
// The writer has no caller to return an error to: a failure is logged, and
// the chain does not advance, so the next segment takes the failed one's
// place and the log stays whole.
func (l *Log) commit(batch []Record) {
	ctx := context.Background()
	seq, hash := l.seq, l.hash
	// The segments are built in a buffer the writer keeps: the store copies
	// what it is given, and a busy bot commits many times a second.
	seg := l.seg[:0]
	var prev [2 * sha256.Size]byte
	cuts := l.cuts[:0]
	for i := range batch {
		seq++
		batch[i].Seq = seq
		start := len(seg)
		if i == 0 || start-cuts[len(cuts)-1].at >= segmentBytes {
			cuts = append(cuts, cut{at: start, seq: seq})
		}
		var err error
		seg, err = appendRecordHead(seg, &batch[i])
		if err != nil {
			l.opts.Logger.Error("audit: encode record", "err", err)
			return
		}
		if i == 0 {
			seg = appendString(seg, hash)
		} else {
			seg = append(append(append(seg, '"'), prev[:]...), '"')
		}
		seg = append(seg, '}')
		sum := sha256.Sum256(seg[start:])
		hex.Encode(prev[:], sum[:])
		seg = append(seg, '\n')
	}
	hash = string(prev[:])
	l.seg, l.cuts = seg, cuts
	ck := checkpoint{Seq: seq, Hash: hash, Time: l.opts.Now().UTC()}
	ck.MAC = ck.mac(l.opts.Keys[0])
	data, _ := json.Marshal(ck)
	// The segments, the head and any lasting checkpoint go in one write:
	// one commit (and one fsync) per batch keeps the writer ahead of
	// dispatch, and a crash keeps all of them or none.
	entries := make([]store.Entry, 0, len(cuts)+2)
	for j, c := range cuts {
		end := len(seg)
		if j+1 < len(cuts) {
			end = cuts[j+1].at
		}
		entries = append(entries, store.Entry{Key: recordKey(recordPrefix, c.seq), Value: seg[c.at:end]})
	}
	entries = append(entries, store.Entry{Key: headKey, Value: data})
	lasting := l.sinceCkp+len(batch) >= l.opts.CheckpointEvery
	if lasting {
		entries = append(entries, store.Entry{Key: recordKey(checkpointPrefix, seq), Value: data})
	}
	if err := store.PutAll(ctx, l.st, entries); err != nil {
		l.opts.Logger.Error("audit: records lost", "count", len(batch), "err", err)
		return
	}
	l.seq, l.hash = seq, hash
	l.sinceCkp += len(batch)
	if lasting {
		l.sinceCkp = 0
	}
	if l.opts.Mirror != nil {
		if _, err := l.opts.Mirror.Write(seg); err != nil {
			l.opts.Logger.Error("audit: mirror", "err", err)
		}
	}
}

// eachLine calls fn with every record of a segment and its line as
// stored, without the newline, which is what the next record's Prev hashes.
func eachLine(seg []byte, fn func(Record, []byte) error) error {
	for len(seg) > 0 {
		i := 0
		for i < len(seg) && seg[i] != '\n' {
			i++
		}
		line := seg[:i]
		if i < len(seg) {
			seg = seg[i+1:]
		} else {
			seg = nil
		}
		var r Record
		if err := json.Unmarshal(line, &r); err != nil {
			return fmt.Errorf("a record does not parse: %w", err)
		}
		if err := fn(r, line); err != nil {
			return err
		}
	}
	return nil
}

// seqOf reads the sequence number at the end of a key.
func seqOf(key, prefix string) (uint64, bool) {
	n, err := strconv.ParseUint(key[len(prefix):], 10, 64)
	return n, err == nil
}
