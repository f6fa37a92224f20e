package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/seipbot/seipbot/store"
)

// BrokenError is the first broken link Verify found.
type BrokenError struct {
	// Seq is the record where the chain breaks: the first one that is
	// missing, altered or out of place.
	Seq uint64
	// Key is the store key of the segment at fault, when known.
	Key     string
	Problem string
}

func (e *BrokenError) Error() string {
	where := fmt.Sprintf("record %d", e.Seq)
	if e.Key != "" {
		where += " (" + e.Key + ")"
	}
	return "audit: the chain breaks at " + where + ": " + e.Problem
}

// Summary says what Verify checked.
type Summary struct {
	Records     uint64
	Checkpoints int
	Last        time.Time // of the last record
}

// Verify walks the log in st from its first record and checks that every
// record follows the one before it, that the checkpoints are signed by one
// of keys and lie on the chain, and that the chain reaches the head
// checkpoint. It returns a *BrokenError for the first broken link; any
// other error means the store could not be read.
func Verify(ctx context.Context, st store.Store, keys [][]byte) (Summary, error) {
	var sum Summary
	// Checkpoints first: they are few, and the walk checks them as it
	// passes their records.
	cps := map[uint64]checkpoint{}
	err := st.Scan(ctx, checkpointPrefix, func(key string, value []byte) error {
		var c checkpoint
		seq, ok := seqOf(key, checkpointPrefix)
		if json.Unmarshal(value, &c) != nil || !ok || c.Seq != seq || !c.signedBy(keys) {
			return &BrokenError{Seq: seq, Key: key, Problem: "the checkpoint's signature does not match it"}
		}
		cps[seq] = c
		return nil
	})
	if err != nil {
		return sum, broken(err, 0)
	}
	var head *checkpoint
	switch raw, err := st.Get(ctx, headKey); {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return sum, broken(err, 0)
	default:
		var c checkpoint
		if json.Unmarshal(raw, &c) != nil || !c.signedBy(keys) {
			return sum, &BrokenError{Seq: c.Seq, Key: headKey, Problem: "the head checkpoint's signature does not match it"}
		}
		head = &c
	}
	var seq uint64
	hash := ""
	err = st.Scan(ctx, recordPrefix, func(key string, seg []byte) error {
		first, ok := seqOf(key, recordPrefix)
		if !ok {
			return &BrokenError{Seq: seq + 1, Key: key, Problem: "a segment key that is not a sequence number"}
		}
		if first != seq+1 {
			return &BrokenError{Seq: seq + 1, Key: key, Problem: fmt.Sprintf("record %d is missing: the next segment starts at record %d", seq+1, first)}
		}
		return eachLine(seg, func(r Record, line []byte) error {
			switch {
			case r.Seq != seq+1:
				return &BrokenError{Seq: seq + 1, Key: key, Problem: fmt.Sprintf("record %d stands in its place", r.Seq)}
			case r.Prev != hash:
				return &BrokenError{Seq: r.Seq, Key: key, Problem: "it does not carry the hash of the record before it"}
			}
			seq, hash = r.Seq, hashOf(line)
			sum.Last = r.Time
			if c, ok := cps[seq]; ok && c.Hash != hash {
				return &BrokenError{Seq: seq, Key: key, Problem: "it differs from what its checkpoint signed"}
			}
			if head != nil && head.Seq == seq && head.Hash != hash {
				return &BrokenError{Seq: seq, Key: key, Problem: "it differs from what the head checkpoint signed"}
			}
			return nil
		})
	})
	if err != nil {
		return sum, broken(err, seq+1)
	}
	sum.Records, sum.Checkpoints = seq, len(cps)
	for n := range cps {
		if n > seq {
			return sum, &BrokenError{Seq: seq + 1, Problem: fmt.Sprintf("the log ends at record %d, but a checkpoint was signed at record %d", seq, n)}
		}
	}
	if head != nil && head.Seq > seq {
		return sum, &BrokenError{Seq: seq + 1, Problem: fmt.Sprintf("the log ends at record %d, but the head checkpoint says it reaches record %d", seq, head.Seq)}
	}
	if head == nil && seq > 0 {
		return sum, &BrokenError{Seq: seq, Key: headKey, Problem: "the head checkpoint is missing"}
	}
	return sum, nil
}

// Resign verifies the log in st with keys and then signs every checkpoint
// again with keys[0]: after a key rotation, so that checkpoints signed
// with a key about to leave the keyring still verify. A log that does not
// verify is left as it is, with the error.
func Resign(ctx context.Context, st store.Store, keys [][]byte) error {
	if _, err := Verify(ctx, st, keys); err != nil {
		return err
	}
	names := []string{headKey}
	err := st.Scan(ctx, checkpointPrefix, func(key string, _ []byte) error {
		names = append(names, key)
		return nil
	})
	if err != nil {
		return err
	}
	for _, key := range names {
		err := st.Update(ctx, key, func(cur []byte) ([]byte, error) {
			if cur == nil {
				return nil, nil
			}
			var c checkpoint
			if err := json.Unmarshal(cur, &c); err != nil {
				return nil, err
			}
			c.MAC = c.mac(keys[0])
			return json.Marshal(c)
		})
		if err != nil {
			return fmt.Errorf("audit: sign %s again: %w", key, err)
		}
	}
	return nil
}

// broken turns an error from a scan into a BrokenError at seq, unless it
// is one already or the store failed for another reason. A segment that
// fails to open was altered or moved in the raw store; the sealed store's
// error names its key.
func broken(err error, seq uint64) error {
	var be *BrokenError
	if errors.As(err, &be) {
		return be
	}
	if errors.Is(err, store.ErrClosed) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return &BrokenError{Seq: seq, Problem: "it does not open: " + strings.TrimPrefix(err.Error(), "sealed: ")}
}

// Export writes the records of st from since on, as JSON lines, to w. It
// reads the log as it stands and does not verify it; run Verify for that.
func Export(ctx context.Context, st store.Store, since time.Time, w io.Writer) error {
	return st.Scan(ctx, recordPrefix, func(_ string, seg []byte) error {
		return eachLine(seg, func(r Record, line []byte) error {
			if r.Time.Before(since) {
				return nil
			}
			if _, err := w.Write(line); err != nil {
				return err
			}
			_, err := io.WriteString(w, "\n")
			return err
		})
	})
}

// Tail returns the last n records of st, oldest first.
func Tail(ctx context.Context, st store.Store, n int) ([]Record, error) {
	ring := make([]Record, 0, n)
	err := st.Scan(ctx, recordPrefix, func(_ string, seg []byte) error {
		return eachLine(seg, func(r Record, _ []byte) error {
			if len(ring) == n {
				ring = append(ring[:0], ring[1:]...)
			}
			ring = append(ring, r)
			return nil
		})
	})
	return ring, err
}
