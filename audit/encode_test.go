package audit

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/seipbot/seipbot/store"
	"github.com/seipbot/seipbot/store/memory"
)

// sameAsJSON fails t unless appendRecord encodes r byte for byte as
// json.Marshal does, and fails where it fails.
func sameAsJSON(t *testing.T, r *Record) {
	t.Helper()
	want, wantErr := json.Marshal(r)
	got, err := appendRecord([]byte("prefix"), r)
	switch {
	case (err == nil) != (wantErr == nil):
		t.Fatalf("record %#v: appendRecord error %v, json.Marshal error %v", r, err, wantErr)
	case err != nil:
		return
	case !bytes.Equal(got[len("prefix"):], want):
		t.Fatalf("record %#v:\nappendRecord %s\njson.Marshal %s", r, got[len("prefix"):], want)
	}
}

// pieces are the awkward parts random strings are made of: everything
// encoding/json escapes, multi-byte and invalid UTF-8.
var pieces = []string{
	"", "a", "runbook svc42", `"`, `\`, "<", ">", "&", "\x00", "\x01", "\b", "\f", "\n", "\r", "\t", "\x1f", "\x7f",
	"é", "日本", "\u2028", "\u2029", "\u2027", "\U0001F512", "\xff", "\xe2\x80", "\xed\xa0\x80", "[masked]", " ",
}

func randomString(rng *rand.Rand) string {
	var b []byte
	for range rng.IntN(6) {
		b = append(b, pieces[rng.IntN(len(pieces))]...)
	}
	return string(b)
}

func randomTime(rng *rand.Rand) time.Time {
	zones := []*time.Location{time.UTC, time.Local, time.FixedZone("", -7*3600-30*60), time.FixedZone("", 14*3600), time.FixedZone("", 24*3600), time.FixedZone("", 90)}
	switch rng.IntN(8) {
	case 0:
		return time.Time{}
	case 1: // years outside 0 to 9999, which json.Marshal refuses
		return time.Date(10000+rng.IntN(5), 1, 1, 0, 0, 0, 0, time.UTC)
	case 2:
		return time.Date(-1-rng.IntN(5), 1, 1, 0, 0, 0, 0, time.UTC)
	case 3: // with a monotonic reading, as time.Now gives
		return time.Now()
	}
	return time.Unix(rng.Int64N(1<<36)-1<<35, rng.Int64N(1e9)).In(zones[rng.IntN(len(zones))])
}

func TestAppendRecordMatchesJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		r := Record{
			Seq: rng.Uint64() >> rng.UintN(64), Time: randomTime(rng), Kind: randomString(rng),
			Identity: randomString(rng), Room: randomString(rng), Adapter: randomString(rng), Command: randomString(rng),
			Decision: randomString(rng), Result: randomString(rng), DurationMS: rng.Int64() >> rng.UintN(64) * int64(1-2*rng.IntN(2)),
			Detail: randomString(rng), Prev: randomString(rng),
		}
		switch rng.IntN(3) {
		case 0:
		case 1:
			r.Args = []Arg{}
		default:
			for range 1 + rng.IntN(3) {
				r.Args = append(r.Args, Arg{Name: randomString(rng), Value: randomString(rng)})
			}
		}
		sameAsJSON(t, &r)
	}
}

func FuzzAppendRecord(f *testing.F) {
	f.Add(uint64(1), int64(1764518940123456789), 0, "command", "shell:alice", "#soc", "runbook svc42", "target", "10.0.0.0/8", "ok", int64(3), "", "")
	f.Add(uint64(0), int64(0), 3600, "", "", "", "", "", "", "", int64(-1), "<&>\u2028", "\xff")
	f.Fuzz(func(t *testing.T, seq uint64, unixNano int64, offset int, kind, identity, room, command, argName, argValue, result string, ms int64, detail, prev string) {
		r := Record{
			Seq: seq, Time: time.Unix(0, unixNano).In(time.FixedZone("", offset%(26*3600))), Kind: kind,
			Identity: identity, Room: room, Adapter: identity, Command: command, Decision: result,
			Result: result, DurationMS: ms, Detail: detail, Prev: prev,
		}
		if argName != "" {
			r.Args = []Arg{{Name: argName, Value: argValue}, {Name: argValue, Value: argName}}
		}
		sameAsJSON(t, &r)
	})
}

// TestStoredLinesMatchJSON checks the lines the writer stores, with their
// sequence numbers and hashes filled in, against json.Marshal, and that
// the log they make verifies.
func TestStoredLinesMatchJSON(t *testing.T) {
	st := memory.New()
	var mirror bytes.Buffer
	keys := [][]byte{[]byte("checkpoint key")}
	l, err := New(st, Options{Keys: keys, Mirror: &mirror, BatchSize: 7})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	added := make([]Record, 100)
	for i := range added {
		added[i] = Record{Time: time.Unix(rng.Int64N(1<<33), rng.Int64N(1e9)), Kind: "command", Command: randomString(rng), Result: randomString(rng),
			Args: []Arg{{Name: "x", Value: randomString(rng)}}}
		l.Add(added[i])
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	prev := ""
	for i, line := range bytes.Split(bytes.TrimSuffix(mirror.Bytes(), []byte("\n")), []byte("\n")) {
		r := added[i]
		r.Seq, r.Prev = uint64(i+1), prev
		if want, _ := json.Marshal(&r); !bytes.Equal(line, want) {
			t.Fatalf("line %d:\nstored       %s\njson.Marshal %s", i, line, want)
		}
		prev = hashOf(line)
	}
	if sum, err := Verify(t.Context(), st, keys); err != nil || sum.Records != 100 {
		t.Fatalf("Verify: %+v, %v", sum, err)
	}
}

// TestCommitSplitsSegments commits one batch larger than a segment and
// checks that it is stored as several segments that verify, and that a
// log opened on them continues the chain.
func TestCommitSplitsSegments(t *testing.T) {
	st := memory.New()
	keys := [][]byte{[]byte("checkpoint key")}
	l, err := New(st, Options{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	batch := make([]Record, 300)
	for i := range batch {
		batch[i] = Record{Time: time.Unix(int64(i), 0), Kind: "command", Detail: string(bytes.Repeat([]byte("x"), 200))}
	}
	l.commit(batch)
	segs := 0
	err = st.Scan(t.Context(), recordPrefix, func(_ string, v []byte) error {
		segs++
		if len(v) > segmentBytes+300 {
			t.Errorf("a segment of %d bytes", len(v))
		}
		return nil
	})
	if err != nil || segs < 3 {
		t.Fatalf("%d segments, %v; want at least 3", segs, err)
	}
	l2, err := New(st, Options{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	if err := l2.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	l2.Add(Record{Kind: "policy"})
	if err := l2.Close(); err != nil {
		t.Fatal(err)
	}
	if sum, err := Verify(t.Context(), st, keys); err != nil || sum.Records != 301 {
		t.Fatalf("Verify: %+v, %v", sum, err)
	}
}

// TestContinuesALogWrittenWithEncodingJSON writes segments as the writer
// did before it had its own encoder, with json.Marshal, and checks that
// the log opens, continues and verifies.
func TestContinuesALogWrittenWithEncodingJSON(t *testing.T) {
	st := memory.New()
	keys := [][]byte{[]byte("checkpoint key")}
	var seq uint64
	hash := ""
	for range 2 {
		first := seq + 1
		var seg []byte
		for range 3 {
			seq++
			line, err := json.Marshal(&Record{Seq: seq, Time: time.Now(), Kind: "command", Command: "ping <&>", Result: "ok", Prev: hash})
			if err != nil {
				t.Fatal(err)
			}
			hash = hashOf(line)
			seg = append(append(seg, line...), '\n')
		}
		ck := checkpoint{Seq: seq, Hash: hash, Time: time.Now().UTC()}
		ck.MAC = ck.mac(keys[0])
		head, _ := json.Marshal(ck)
		if err := store.PutAll(t.Context(), st, []store.Entry{{Key: recordKey(recordPrefix, first), Value: seg}, {Key: headKey, Value: head}}); err != nil {
			t.Fatal(err)
		}
	}
	l, err := New(st, Options{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	l.Add(Record{Kind: "policy", Detail: "loaded"})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if sum, err := Verify(t.Context(), st, keys); err != nil || sum.Records != 7 {
		t.Fatalf("Verify: %+v, %v", sum, err)
	}
}
