package audit_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seipbot/seipbot/audit"
	"github.com/seipbot/seipbot/bot"
	"github.com/seipbot/seipbot/bottest"
	"github.com/seipbot/seipbot/store"
	"github.com/seipbot/seipbot/store/bolt"
	"github.com/seipbot/seipbot/store/sealed"
)

var testKeyText, _ = sealed.NewKey()

var testKey = mustKeyring(testKeyText)

func mustKeyring(s string) *sealed.Keyring {
	kr, err := sealed.ParseKeyring(s)
	if err != nil {
		panic(err)
	}
	return kr
}

// sealedBolt opens the bolt file at path behind the sealed wrapper.
func sealedBolt(t testing.TB, path string) store.Store {
	t.Helper()
	raw, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return sealed.New(raw, testKey)
}

// rawBolt opens the bolt file at path without the sealed wrapper, as
// someone with the file but not the key would.
func rawBolt(t testing.TB, path string) store.Store {
	t.Helper()
	raw, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func openLog(t *testing.T, st store.Store, opts audit.Options) *audit.Log {
	t.Helper()
	if opts.Keys == nil {
		opts.Keys = testKey.DeriveAll("audit")
	}
	l, err := audit.New(st, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	return l
}

// writeLog makes a log of n records in a fresh bolt file, one segment
// each, and returns the file's path.
func writeLog(t *testing.T, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "seipbot.db")
	st := sealedBolt(t, path)
	l := openLog(t, st, audit.Options{})
	for i := 1; i <= n; i++ {
		l.Add(audit.Record{Kind: "command", Identity: "shell:alice", Command: fmt.Sprintf("step %d", i), Decision: "allowed", Result: "ok"})
		if err := l.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	st.Close()
	return path
}

func key(seq int) string { return fmt.Sprintf("audit/%020d", seq) }

func verify(t *testing.T, path string) (audit.Summary, error) {
	t.Helper()
	st := sealedBolt(t, path)
	defer st.Close()
	return audit.Verify(context.Background(), st, testKey.DeriveAll("audit"))
}

func TestVerifyCleanLog(t *testing.T) {
	path := writeLog(t, 5)
	sum, err := verify(t, path)
	if err != nil || sum.Records != 5 {
		t.Fatalf("Verify = %+v, %v; want 5 records and no error", sum, err)
	}
}

// TestVerifyFindsTampering alters the raw bolt file, below the sealed
// wrapper, and expects Verify to name the first broken record.
func TestVerifyFindsTampering(t *testing.T) {
	tests := []struct {
		name   string
		tamper func(t *testing.T, path string)
		seq    uint64
		says   string
	}{
		{"byte flipped", func(t *testing.T, path string) {
			raw := rawBolt(t, path)
			value, err := raw.Get(context.Background(), key(3))
			raw.Close()
			if err != nil {
				t.Fatal(err)
			}
			file, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			at := bytes.Index(file, value)
			if at < 0 || bytes.Contains(file[at+1:], value) {
				t.Fatal("the record's bytes are not in the file exactly once")
			}
			file[at+len(value)/2] ^= 0x01
			if err := os.WriteFile(path, file, 0o600); err != nil {
				t.Fatal(err)
			}
		}, 3, key(3)},
		{"record removed", func(t *testing.T, path string) {
			raw := rawBolt(t, path)
			defer raw.Close()
			raw.Delete(context.Background(), key(3))
		}, 3, "record 3 is missing"},
		{"last record removed", func(t *testing.T, path string) {
			raw := rawBolt(t, path)
			defer raw.Close()
			raw.Delete(context.Background(), key(5))
		}, 5, "the head checkpoint says it reaches record 5"},
		{"two records swapped", func(t *testing.T, path string) {
			raw := rawBolt(t, path)
			defer raw.Close()
			ctx := context.Background()
			two, _ := raw.Get(ctx, key(2))
			four, _ := raw.Get(ctx, key(4))
			raw.Put(ctx, key(2), four, 0)
			raw.Put(ctx, key(4), two, 0)
		}, 2, key(2)},
		{"head removed", func(t *testing.T, path string) {
			raw := rawBolt(t, path)
			defer raw.Close()
			raw.Delete(context.Background(), "audit-head/head")
		}, 5, "the head checkpoint is missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeLog(t, 5)
			tt.tamper(t, path)
			_, err := verify(t, path)
			var be *audit.BrokenError
			if !errors.As(err, &be) {
				t.Fatalf("Verify = %v, want a BrokenError", err)
			}
			if be.Seq != tt.seq || !strings.Contains(err.Error(), tt.says) || !strings.Contains(err.Error(), fmt.Sprintf("record %d", tt.seq)) {
				t.Errorf("Verify = %q (seq %d), want record %d named and %q", err, be.Seq, tt.seq, tt.says)
			}
		})
	}
}

func TestVerifyChecksCheckpointKeys(t *testing.T) {
	path := writeLog(t, 3)
	st := sealedBolt(t, path)
	defer st.Close()
	other := make([]byte, 32)
	if _, err := audit.Verify(context.Background(), st, [][]byte{other}); err == nil || !strings.Contains(err.Error(), "signature") {
		t.Fatalf("Verify with another key = %v, want a signature mismatch", err)
	}
	// During a rotation the old key's subkey comes second and still checks.
	if _, err := audit.Verify(context.Background(), st, [][]byte{other, testKey.Derive("audit")}); err != nil {
		t.Fatalf("Verify with the signing key second: %v", err)
	}
}

func TestResignAfterRotation(t *testing.T) {
	path := writeLog(t, 3)
	newKey, _ := sealed.NewKey()
	rotating := mustKeyring(newKey + "," + testKeyText)
	raw := rawBolt(t, path)
	st := sealed.New(raw, rotating)
	defer st.Close()
	ctx := context.Background()
	if _, err := sealed.Reencrypt(ctx, st); err != nil {
		t.Fatal(err)
	}
	if err := audit.Resign(ctx, st, rotating.DeriveAll("audit")); err != nil {
		t.Fatal(err)
	}
	// The old key has left the keyring.
	if _, err := audit.Verify(ctx, sealed.New(raw, mustKeyring(newKey)), mustKeyring(newKey).DeriveAll("audit")); err != nil {
		t.Fatalf("Verify after the rotation: %v", err)
	}
}

func TestReopenContinuesTheChain(t *testing.T) {
	path := writeLog(t, 2)
	st := sealedBolt(t, path)
	l := openLog(t, st, audit.Options{CheckpointEvery: 2})
	for range 3 {
		l.Add(audit.Record{Kind: "policy", Detail: "loaded"})
	}
	l.Close()
	sum, err := audit.Verify(context.Background(), st, testKey.DeriveAll("audit"))
	st.Close()
	if err != nil || sum.Records != 5 || sum.Checkpoints != 1 {
		t.Fatalf("Verify = %+v, %v; want 5 records, one lasting checkpoint", sum, err)
	}
}

func TestGroupCommitUnderConcurrency(t *testing.T) {
	path := filepath.Join(t.TempDir(), "seipbot.db")
	st := sealedBolt(t, path)
	defer st.Close()
	// The writer alone writes the mirror, and Close waits for it.
	var mirror bytes.Buffer
	l := openLog(t, st, audit.Options{Mirror: &mirror, BatchSize: 16, CheckpointEvery: 50})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 100 {
				l.Add(audit.Record{Kind: "command", Identity: fmt.Sprintf("test:%d", g), Command: fmt.Sprintf("n %d", i)})
			}
		})
	}
	wg.Wait()
	l.Close()
	sum, err := audit.Verify(context.Background(), st, testKey.DeriveAll("audit"))
	if err != nil || sum.Records != 800 || sum.Checkpoints < 1 {
		t.Fatalf("Verify = %+v, %v", sum, err)
	}
	if n := strings.Count(mirror.String(), "\n"); n != 800 {
		t.Errorf("mirror has %d lines, want 800", n)
	}
	var export bytes.Buffer
	if err := audit.Export(context.Background(), st, sum.Last.Add(1), &export); err != nil || export.Len() != 0 {
		t.Errorf("Export after the last record = %q, %v", export.String(), err)
	}
}

// vault has a command with a secret argument that fails quoting it, as a
// careless handler might.
type vault struct{}

func (vault) Name() string { return "vault" }
func (vault) Register(r *bot.Registry) error {
	r.Command(bot.Command{
		Words: "vault put",
		Args:  []bot.Arg{{Name: "name", Kind: bot.String}, {Name: "token", Kind: bot.String, Secret: true}},
		Handler: bot.HandlerFunc(func(ctx context.Context, w bot.Responder, m *bot.Message) error {
			return bot.Userf("could not store %s", m.Args.String("token"))
		}),
	})
	r.Command(bot.Command{Words: "vault read", Permission: "vault.read", Sensitive: true, Handler: bot.HandlerFunc(func(ctx context.Context, w bot.Responder, m *bot.Message) error {
		return w.Reply(ctx, "ok")
	})})
	return nil
}

func TestSecretsStayOutOfTheLog(t *testing.T) {
	const secret = "tok-5up3r-s3cr3t"
	dir := t.TempDir()
	path := filepath.Join(dir, "seipbot.db")
	st := sealedBolt(t, path)
	// The writer alone writes the mirror, and Close waits for it.
	var mirror bytes.Buffer
	l := openLog(t, st, audit.Options{Mirror: &mirror})
	bottest.Run(t, bot.Options{Audit: l.Middleware}, []bot.Plugin{vault{}},
		bottest.DM("alice", "vault put prod "+secret),
		bottest.DM("alice", "vault read"))
	l.Close()
	var export bytes.Buffer
	if err := audit.Export(context.Background(), st, time.Time{}, &export); err != nil {
		t.Fatal(err)
	}
	recs, err := audit.Tail(context.Background(), st, 10)
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	file, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{"the bolt file": string(file), "the export": export.String(), "the mirror": mirror.String(), "tail": fmt.Sprint(recs)} {
		if strings.Contains(text, secret) {
			t.Errorf("%s holds the secret argument", name)
		}
	}
	if len(recs) != 2 {
		t.Fatalf("%d records, want 2: %+v", len(recs), recs)
	}
	put, read := recs[0], recs[1]
	if put.Command != "vault put" || put.Identity != "test:alice" || put.Room != "dm:alice" || put.Adapter != "test" ||
		fmt.Sprint(put.Args) != "[{name prod} {token [masked]}]" || put.Result != "could not store [masked]" || put.Decision != "allowed" {
		t.Errorf("vault put recorded as %+v", put)
	}
	// Without an Authorizer the bot refuses sensitive commands; the
	// refusal is recorded as one.
	if read.Command != "vault read" || read.Decision != "denied" || !strings.Contains(read.Result, "restricted") || read.Prev == "" {
		t.Errorf("vault read recorded as %+v", read)
	}
}
