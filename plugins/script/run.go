package script

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/seipbot/seipbot/bot"
)

// request is what a program reads on its standard input: everything about
// the message, so it need not parse its argv at all.
type request struct {
	Command string            `json:"command"`
	Message string            `json:"message"`
	User    requestUser       `json:"user"`
	Room    string            `json:"room"`
	Direct  bool              `json:"direct"`
	Args    map[string]string `json:"args"`
}

type requestUser struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// cleanPath is the only PATH a program sees, whatever the bot's own.
const cleanPath = "PATH=/usr/bin:/bin"

// maxStderr bounds how much of a program's error output reaches the log.
const maxStderr = 16 << 10

// waitDelay is how long a program's output may stay open after it exits
// or is killed; a background child that keeps it open longer is killed
// with the group rather than holding up the reply.
const waitDelay = time.Second

// runProgram runs c's program with the checked argument values and answers
// with what it prints.
func (f *Folder) runProgram(ctx context.Context, w bot.Responder, m *bot.Message, p *manifest, c *command, args []namedValue) error {
	req := request{
		Command: c.Words,
		Message: m.Body,
		User:    requestUser{ID: m.User.ID, Name: m.User.Name},
		Room:    m.Room,
		Direct:  m.Direct,
		Args:    map[string]string{},
	}
	// After "--" every argument is one argv element, so a value that
	// starts with a dash cannot be read as an option by the program's
	// own flag parser.
	argv := []string{"--"}
	for _, a := range args {
		argv = append(argv, a.value)
		req.Args[a.name] = a.value
	}
	stdin, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("script %s: encode request: %w", p.name, err)
	}

	runCtx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	cmd := exec.CommandContext(runCtx, p.Program, argv...)
	cmd.Dir = p.Dir
	cmd.Env = f.environ(p.Env)
	cmd.Stdin = bytes.NewReader(stdin)
	out := &output{ctx: ctx, w: w, mode: p.Output, limit: f.opts.MaxOutput, log: f.log}
	out.text.limit = f.opts.MaxOutput
	cmd.Stdout = out
	stderr := &capped{limit: maxStderr}
	cmd.Stderr = stderr
	cmd.WaitDelay = waitDelay
	isolate(cmd)

	start := time.Now()
	err = cmd.Run()
	// The program may have left children behind even on success; the
	// group goes with it.
	_ = killGroup(cmd)
	logArgs := []any{"plugin", p.name, "command", c.Words, "user", m.User.ID, "took", time.Since(start).Round(time.Millisecond)}
	if stderr.buf.Len() > 0 {
		logArgs = append(logArgs, "stderr", stderr.String())
	}
	switch {
	case ctx.Err() != nil:
		f.log.Warn("script stopped", append(logArgs, "err", ctx.Err())...)
		return fmt.Errorf("script %s: %w", p.name, ctx.Err())
	case runCtx.Err() != nil:
		f.log.Warn("script timed out", logArgs...)
		return bot.Userf("%q took longer than %s and was stopped; try again, or narrow the request.", c.Words, p.timeout)
	case err != nil && !errors.Is(err, exec.ErrWaitDelay):
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			return fmt.Errorf("script %s: %w", p.name, err)
		}
		f.log.Warn("script failed", append(logArgs, "exit", exit.ExitCode())...)
		return &bot.UserError{
			Msg: fmt.Sprintf("%q failed (exit status %d); the bot's log has its error output.", c.Words, exit.ExitCode()),
			Err: err,
		}
	}
	f.log.Info("script ran", logArgs...)
	return out.finish(c.Words)
}

// environ is the whole environment of a program: PATH and the allowlisted
// variables that the bot's environment has.
func (f *Folder) environ(allow []string) []string {
	env := []string{cleanPath}
	for _, name := range allow {
		if v, ok := f.opts.LookupEnv(name); ok {
			env = append(env, name+"="+v)
		}
	}
	return env
}

// capped keeps the first limit bytes written to it and counts the rest.
// It never fails a write: a program blocked on a full pipe would only run
// into its timeout.
type capped struct {
	limit   int
	buf     bytes.Buffer
	dropped int
}

func (c *capped) Write(p []byte) (int, error) {
	room := c.limit - c.buf.Len()
	if room >= len(p) {
		c.buf.Write(p)
		return len(p), nil
	}
	room = max(room, 0)
	c.buf.Write(p[:room])
	c.dropped += len(p) - room
	return len(p), nil
}

func (c *capped) String() string {
	if c.dropped == 0 {
		return c.buf.String()
	}
	return c.buf.String() + fmt.Sprintf("… (%d more bytes)", c.dropped)
}

// output turns what a program prints into replies. In jsonl mode it reads
// each line as it arrives, so progress reaches the room while the program
// runs; the other modes answer once the program is done. Write is called
// from os/exec's copying goroutine, hence the lock.
type output struct {
	ctx   context.Context
	w     bot.Responder
	mode  string
	limit int
	log   *slog.Logger

	mu      sync.Mutex
	seen    int             // bytes written so far, kept or not
	text    capped          // text, code and json modes
	line    bytes.Buffer    // jsonl: the line being read
	pending strings.Builder // jsonl: said but not yet sent
}

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := len(p)
	room := o.limit - o.seen
	o.seen += n
	if o.mode != "jsonl" {
		return o.text.Write(p)
	}
	if room <= 0 {
		return n, nil
	}
	p = p[:min(room, n)]
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			o.line.Write(p)
			break
		}
		o.line.Write(p[:i])
		o.jsonLine(o.line.Bytes())
		o.line.Reset()
		p = p[i+1:]
	}
	return n, nil
}

// outLine is one line of the JSON-lines protocol.
type outLine struct {
	Say      *string `json:"say"`
	Code     *string `json:"code"`
	Progress *int    `json:"progress"`
	Note     string  `json:"note"`
	File     *struct {
		Name    string `json:"name"`
		Content string `json:"content"`
	} `json:"file"`
}

func (o *output) jsonLine(line []byte) {
	if len(bytes.TrimSpace(line)) == 0 {
		return
	}
	var l outLine
	if err := json.Unmarshal(line, &l); err != nil {
		// A stray line (a tool's own output) is still worth showing.
		o.add(string(line))
		return
	}
	if l.Say != nil {
		o.add(*l.Say)
	}
	if l.Code != nil {
		o.add(fence(*l.Code))
	}
	if l.File != nil {
		// Attachments become code blocks until adapters can upload files.
		o.add("**" + l.File.Name + "**\n" + fence(l.File.Content))
	}
	if l.Progress != nil {
		o.flush()
		text := strconv.Itoa(*l.Progress) + "%"
		if l.Note != "" {
			text += " — " + l.Note
		}
		o.send(text)
	}
}

func (o *output) add(s string) {
	if o.pending.Len() > 0 {
		o.pending.WriteByte('\n')
	}
	o.pending.WriteString(s)
}

func (o *output) flush() {
	if o.pending.Len() > 0 {
		o.send(o.pending.String())
		o.pending.Reset()
	}
}

func (o *output) send(text string) {
	if err := o.w.Reply(o.ctx, text); err != nil {
		o.log.Warn("script reply failed", "err", err)
	}
}

// finish sends what is left once the program has exited.
func (o *output) finish(words string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	cut := o.seen > o.limit
	note := fmt.Sprintf("(output cut at %d KiB)", o.limit>>10)
	if o.mode == "jsonl" {
		if !cut && o.line.Len() > 0 {
			o.jsonLine(o.line.Bytes())
		}
		if cut {
			o.add(note)
		}
		o.flush()
		return nil
	}
	text := o.text.buf.String()
	switch {
	case strings.TrimSpace(text) == "":
		text = fmt.Sprintf("%q finished with no output.", words)
	case o.mode == "code":
		text = fence(text)
	case o.mode == "json":
		var pretty bytes.Buffer
		if err := json.Indent(&pretty, []byte(text), "", "  "); err == nil {
			text = pretty.String()
		}
		text = fence(text)
	default:
		text = strings.TrimRight(text, "\n")
	}
	if cut {
		text += "\n" + note
	}
	return o.w.Reply(o.ctx, text)
}

// fence puts s in a code block. A fence inside s would end the block early
// and let the rest be read as markup, so its backticks are split.
func fence(s string) string {
	s = strings.ReplaceAll(strings.TrimRight(s, "\n"), "```", "`\u200b``")
	return "```\n" + s + "\n```"
}
