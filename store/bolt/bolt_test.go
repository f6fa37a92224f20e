package bolt_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/seipbot/seipbot/store"
	"github.com/seipbot/seipbot/store/bolt"
	"github.com/seipbot/seipbot/store/storetest"
)

// open opens a store at path and closes it when the test ends.
func open(t testing.TB, path string, opts bolt.Options) *bolt.Store {
	t.Helper()
	s, err := bolt.Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.RunWithClock(t, func(t *testing.T, now func() time.Time) store.Store {
		return open(t, filepath.Join(t.TempDir(), "seipbot.db"), bolt.Options{Now: now})
	})
}

func TestReopenKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "seipbot.db")
	s := open(t, path, bolt.Options{})
	if err := s.Put(t.Context(), "notes/1", []byte("kept"), 0); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, path, bolt.Options{})
	got, err := s.Get(t.Context(), "notes/1")
	if err != nil || string(got) != "kept" {
		t.Fatalf("after reopening, Get = %q, %v; want %q", got, err, "kept")
	}
}

func TestFileMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "seipbot.db")
	// A file that others can read is tightened, not trusted.
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	open(t, path, bolt.Options{})
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := fi.Mode().Perm(); mode != 0o600 {
		t.Fatalf("file mode = %v, want 0600", mode)
	}
}

func TestLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "seipbot.db")
	open(t, path, bolt.Options{})
	// bbolt locks with flock, which conflicts between two opens of one
	// file even within a process, so this stands in for a second seipbot.
	s, err := bolt.Open(path, bolt.Options{LockTimeout: 50 * time.Millisecond})
	if err == nil {
		s.Close()
		t.Fatal("a second Open of a locked file succeeded")
	}
	if !errors.Is(err, bolt.ErrLocked) || !strings.Contains(err.Error(), "in use by another seipbot") {
		t.Fatalf("second Open: %v; want ErrLocked saying the file is in use", err)
	}
}

func TestOpenSweepsExpired(t *testing.T) {
	path := filepath.Join(t.TempDir(), "seipbot.db")
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	s := open(t, path, bolt.Options{Now: clock})
	ctx := t.Context()
	if err := s.Put(ctx, "ttl/gone", []byte("x"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "ttl/kept", []byte("y"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Minute)
	s = open(t, path, bolt.Options{Now: clock})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Read the file itself: hiding the record is not enough, the sweep
	// must have removed it.
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var keys []string
	err = db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket([]byte("ttl")).ForEach(func(k, _ []byte) error {
			keys = append(keys, string(k))
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0] != "ttl/kept" {
		t.Fatalf("records in the file after the sweep: %q, want only ttl/kept", keys)
	}
}

func TestPeriodicSweep(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}
	s := open(t, filepath.Join(t.TempDir(), "seipbot.db"), bolt.Options{Now: clock, SweepInterval: time.Millisecond})
	if err := s.Put(t.Context(), "ttl/gone", []byte("x"), time.Minute); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	now = now.Add(time.Minute)
	mu.Unlock()
	// The sweeper runs on real time; give it ample time on a slow machine.
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		n, err := bolt.Records(s)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
	t.Fatal("the periodic sweep did not remove an expired record")
}

func TestBadKeys(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "seipbot.db"), bolt.Options{})
	for _, key := range []string{"", "/x"} {
		if err := s.Put(t.Context(), key, []byte("v"), 0); err == nil {
			t.Errorf("Put(%q) succeeded; want an error naming the key", key)
		}
	}
}

// TestFailedWriteInGroup sends writers at the store at once, some of whose
// PutBatches cannot be stored: those fail whole, leaving none of their
// entries, and the writes that shared their commit are stored all the same.
func TestFailedWriteInGroup(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "seipbot.db"), bolt.Options{})
	tooLong := "g/" + strings.Repeat("k", bbolt.MaxKeySize)
	var wg sync.WaitGroup
	for w := range 32 {
		wg.Go(func() {
			entries := []store.Entry{{Key: fmt.Sprintf("g/%02d", w), Value: []byte("v")}}
			if w%4 == 0 {
				entries = append(entries, store.Entry{Key: tooLong, Value: []byte("v")})
			}
			err := s.PutBatch(t.Context(), entries)
			if (err != nil) != (w%4 == 0) {
				t.Errorf("PutBatch of writer %d: %v", w, err)
			}
		})
	}
	wg.Wait()
	for w := range 32 {
		_, err := s.Get(t.Context(), fmt.Sprintf("g/%02d", w))
		if failed := w%4 == 0; failed != errors.Is(err, store.ErrNotFound) {
			t.Errorf("writer %d (failed: %v): Get = %v", w, failed, err)
		}
	}
}

// crashChildEnv names the file crashChild writes to when
// TestAckedWritesSurviveKill runs the test binary again as the process
// that gets killed.
const crashChildEnv = "SEIPBOT_BOLT_CRASH_FILE"

// TestMain makes the test binary crashChild when crashChildEnv is set, and
// runs the tests otherwise.
func TestMain(m *testing.M) {
	if path := os.Getenv(crashChildEnv); path != "" {
		if err := crashChild(path); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// crashChild writes records from several writers, so that they share
// commits, and says which ones were acknowledged until it is killed.
func crashChild(path string) error {
	s, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		return err
	}
	for w := range 8 {
		go func() {
			for i := 0; ; i++ {
				key := fmt.Sprintf("crash/%d-%06d", w, i)
				if err := s.Put(context.Background(), key, []byte("v"), 0); err != nil {
					fmt.Printf("failed %s: %v\n", key, err)
					return
				}
				fmt.Printf("acked %s\n", key)
			}
		}()
	}
	select {}
}

func TestAckedWritesSurviveKill(t *testing.T) {
	path := filepath.Join(t.TempDir(), "seipbot.db")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var acked []string
	lines := bufio.NewScanner(out)
	for len(acked) < 400 && lines.Scan() {
		if key, ok := strings.CutPrefix(lines.Text(), "acked "); ok {
			acked = append(acked, key)
		} else {
			t.Errorf("child: %s", lines.Text())
		}
	}
	// SIGKILL: no deferred Close, no flush, exactly what kill -9 does.
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if len(acked) == 0 {
		t.Fatal("the child acknowledged no write")
	}
	s := open(t, path, bolt.Options{})
	for _, key := range acked {
		if _, err := s.Get(t.Context(), key); err != nil {
			t.Fatalf("acknowledged write %s (of %d) lost after kill -9: %v", key, len(acked), err)
		}
	}
}

func BenchmarkPut(b *testing.B) {
	storetest.BenchPut(b, open(b, filepath.Join(b.TempDir(), "seipbot.db"), bolt.Options{}))
}

// BenchmarkPutParallel shows what the group commit buys: concurrent Puts
// share commits and fsyncs.
func BenchmarkPutParallel(b *testing.B) {
	storetest.BenchPutParallel(b, open(b, filepath.Join(b.TempDir(), "seipbot.db"), bolt.Options{}))
}

func BenchmarkGet(b *testing.B) {
	storetest.BenchGet(b, open(b, filepath.Join(b.TempDir(), "seipbot.db"), bolt.Options{}))
}
