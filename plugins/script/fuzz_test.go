package script

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/seipbot/seipbot/bot"
)

// replies records what the output parser says, in order.
type replies struct {
	bot.Responder
	said []string
}

func (r *replies) Reply(_ context.Context, text string) error {
	r.said = append(r.said, text)
	return nil
}

// FuzzOutput feeds arbitrary program output to the output parser in every
// mode, once in one write and once cut into pieces as a pipe may deliver
// it. The replies must not depend on where the cuts fall, and beyond the
// limit nothing more is read.
func FuzzOutput(f *testing.F) {
	for _, s := range []string{
		"plain text\n",
		`{"say": "hello"}` + "\n" + `{"progress": 50, "note": "half"}` + "\n" + `{"code": "x := 1"}` + "\n",
		`{"file": {"name": "report.txt", "content": "a` + "```" + `b"}}` + "\n" + `{"say": "tail"}`,
		`{"progress": -1}` + "\nnot json\n\n   \n" + `{"say": null, "code": 3}`,
		`{"say": "\ud800"}` + "\n" + `[1, 2]`,
	} {
		f.Add([]byte(s), uint8(0), uint16(7))
	}
	modes := []string{"text", "code", "json", "jsonl"}
	f.Fuzz(func(t *testing.T, out []byte, mode uint8, cut uint16) {
		m := modes[int(mode)%len(modes)]
		// A small limit lets short inputs reach it.
		limit := 64 + int(cut)%256
		whole := parseOutput(t, m, limit, [][]byte{out})
		step := 1 + int(cut)%13
		var pieces [][]byte
		for rest := out; len(rest) > 0; {
			n := min(step, len(rest))
			pieces = append(pieces, rest[:n])
			rest = rest[n:]
		}
		if cut := parseOutput(t, m, limit, pieces); !slices.Equal(whole, cut) {
			t.Fatalf("mode %s: in one write the output says %q; in pieces of %d bytes, %q", m, whole, step, cut)
		}
		if len(out) > limit && !strings.Contains(strings.Join(whole, "\n"), "(output cut at") {
			t.Fatalf("mode %s: %d bytes over a limit of %d, but no note says the output was cut: %q", m, len(out), limit, whole)
		}
	})
}

func parseOutput(t *testing.T, mode string, limit int, writes [][]byte) []string {
	t.Helper()
	r := &replies{}
	o := &output{ctx: context.Background(), w: r, mode: mode, limit: limit, log: slog.New(slog.DiscardHandler)}
	o.text.limit = limit
	for _, p := range writes {
		if n, err := o.Write(p); n != len(p) || err != nil {
			t.Fatalf("Write took %d of %d bytes: %v", n, len(p), err)
		}
	}
	if err := o.finish("cmd"); err != nil {
		t.Fatalf("finish: %v", err)
	}
	return r.said
}
