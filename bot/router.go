package bot

import (
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Plugin is a set of commands and hear patterns. Built-in plugins and the
// ones a team writes implement the same interface.
type Plugin interface {
	Name() string
	// Register declares the plugin's commands and hear patterns.
	Register(r *Registry) error
}

// Registry is what a plugin registers through; it records which plugin
// registered what, so a conflict names both sides.
type Registry struct {
	router *Router
	plugin string
	errs   []error
}

// Command registers a command. A mistake in the declaration, or words that
// another plugin already registered, makes Bot.Use fail.
func (g *Registry) Command(c Command) {
	c.Plugin = g.plugin
	if err := g.router.addCommand(&c); err != nil {
		g.errs = append(g.errs, err)
	}
}

// Hear registers a hear pattern.
func (g *Registry) Hear(h Hear) {
	h.Plugin = g.plugin
	if err := g.router.addHear(&h); err != nil {
		g.errs = append(g.errs, err)
	}
}

// Router finds what a message asks for. Commands are found through a tree
// of their words, so the cost of a message does not grow with the number
// of commands; hear patterns go through a literal prefilter.
type Router struct {
	name     string // lower case
	prefix   string
	root     wordNode
	commands []*Command
	words    [][]string   // each command's words, for suggestions
	firsts   []firstGroup // commands by first word, for suggestions
	hears    []*Hear
	index    *hearIndex
}

// firstGroup lists the commands (indexes into Router.commands) whose first
// word is word.
type firstGroup struct {
	word string
	mask uint64 // letterMask(word)
	cmds []int
}

type wordNode struct {
	cmd  *Command
	next map[string]*wordNode
}

// NewRouter returns a router for a bot called name that also answers lines
// starting with prefix ("" for none).
func NewRouter(name, prefix string) *Router {
	return &Router{name: strings.ToLower(name), prefix: prefix}
}

func (r *Router) addCommand(c *Command) error {
	if err := c.validate(); err != nil {
		return fmt.Errorf("plugin %q: %w", c.Plugin, err)
	}
	n := &r.root
	for w := range strings.FieldsSeq(c.Words) {
		if n.next == nil {
			n.next = map[string]*wordNode{}
		}
		nx := n.next[w]
		if nx == nil {
			nx = &wordNode{}
			n.next[w] = nx
		}
		n = nx
	}
	if n.cmd != nil {
		return fmt.Errorf("command %q of plugin %q conflicts with the same command of plugin %q", c.Words, c.Plugin, n.cmd.Plugin)
	}
	n.cmd = c
	r.commands = append(r.commands, c)
	r.words = append(r.words, strings.Fields(c.Words))
	return nil
}

func (r *Router) addHear(h *Hear) error {
	if err := h.compile(); err != nil {
		return fmt.Errorf("plugin %q: %w", h.Plugin, err)
	}
	for _, o := range r.hears {
		if o.Plugin == h.Plugin && o.Name == h.Name {
			return fmt.Errorf("hear %q of plugin %q is registered twice", h.Name, h.Plugin)
		}
	}
	r.hears = append(r.hears, h)
	r.index = nil
	return nil
}

// use registers plugins, reporting every mistake at once.
func (r *Router) use(plugins ...Plugin) error {
	var errs []error
	for _, p := range plugins {
		g := &Registry{router: r, plugin: p.Name()}
		if err := p.Register(g); err != nil {
			g.errs = append(g.errs, fmt.Errorf("plugin %q: %w", p.Name(), err))
		}
		errs = append(errs, g.errs...)
	}
	r.index = buildHearIndex(r.hears)
	r.firsts = r.firsts[:0]
	group := map[string]int{}
	for i, w := range r.words {
		g, ok := group[w[0]]
		if !ok {
			g = len(r.firsts)
			group[w[0]] = g
			r.firsts = append(r.firsts, firstGroup{word: w[0], mask: letterMask(w[0])})
		}
		r.firsts[g].cmds = append(r.firsts[g].cmds, i)
	}
	return errors.Join(errs...)
}

// Commands returns every registered command, grouped by plugin in
// registration order and sorted by words within a plugin.
func (r *Router) Commands() []*Command {
	out := slices.Clone(r.commands)
	order := map[string]int{}
	for _, c := range r.commands {
		if _, ok := order[c.Plugin]; !ok {
			order[c.Plugin] = len(order)
		}
	}
	slices.SortStableFunc(out, func(a, b *Command) int {
		if d := order[a.Plugin] - order[b.Plugin]; d != 0 {
			return d
		}
		return strings.Compare(a.Words, b.Words)
	})
	return out
}

// Hears returns every registered hear pattern in registration order.
func (r *Router) Hears() []*Hear { return slices.Clone(r.hears) }

// Lookup returns the command named by words, or nil.
func (r *Router) Lookup(words string) *Command {
	n := &r.root
	for w := range strings.FieldsSeq(strings.ToLower(words)) {
		n = n.next[w]
		if n == nil {
			return nil
		}
	}
	return n.cmd
}

// Parse finds the command a command line names, without a mention or
// prefix, and checks its arguments as a message would be, so tools outside
// chat (an access check, an approval) see exactly what the bot would run.
// It returns a nil Command when the line names none.
func (r *Router) Parse(line string) (*Command, Args, error) {
	toks, err := tokenize(line)
	if err != nil {
		return nil, nil, err
	}
	cmd, used := r.resolve(toks)
	if cmd == nil {
		return nil, nil, nil
	}
	args, err := cmd.parseArgs(line, toks[used:])
	return cmd, args, err
}

// address decides whether m is meant for the bot and returns the text
// without the mention or prefix.
func (r *Router) address(m *Message) (string, bool) {
	text := strings.TrimLeftFunc(m.Text, unicode.IsSpace)
	if r.prefix != "" && strings.HasPrefix(text, r.prefix) {
		return strings.TrimSpace(text[len(r.prefix):]), true
	}
	if body, ok := r.stripName(text); ok {
		return body, true
	}
	return strings.TrimSpace(text), m.Direct || m.Mentioned
}

// stripName removes a leading "@name", "name:", "name," or "name " in any
// case, with the punctuation chat clients add after a completed mention.
func (r *Router) stripName(text string) (string, bool) {
	t := strings.TrimPrefix(text, "@")
	if len(t) < len(r.name) || !strings.EqualFold(t[:len(r.name)], r.name) {
		return "", false
	}
	rest := t[len(r.name):]
	if rest == "" {
		return "", true
	}
	c, size := utf8.DecodeRuneInString(rest)
	switch {
	case unicode.IsSpace(c):
	case strings.ContainsRune(":,;.!>", c):
		rest = rest[size:]
	default:
		return "", false // "seipbots", "seipbot-dev"
	}
	return strings.TrimSpace(rest), true
}

// resolve finds the command the tokens name: the longest run of words that
// names one.
func (r *Router) resolve(toks []token) (*Command, int) {
	var cmd *Command
	used := 0
	n := &r.root
	for i, t := range toks {
		n = n.next[strings.ToLower(t.text)]
		if n == nil {
			break
		}
		if n.cmd != nil {
			cmd, used = n.cmd, i+1
		}
	}
	return cmd, used
}

// suggest returns the command whose words are closest to what was typed,
// within a small edit distance, or nil. It runs for every addressed line
// that names no command, so it compares the typed first word once with each
// distinct first word (many commands share one: "runbook …") and avoids
// allocating.
func (r *Router) suggest(toks []token) *Command {
	var best *Command
	bestDist := 1 << 30
	first := letterMask(toks[0].text)
	for _, g := range r.firsts {
		// Each edit takes away at most one kind of byte and brings in at
		// most one, so words that differ in more than two kinds are
		// further apart than any suggestion; most chatter ends here.
		if bits.OnesCount64(first&^g.mask) > 2 || bits.OnesCount64(g.mask&^first) > 2 {
			continue
		}
		d1 := editDistance(toks[0].text, g.word, 2)
		if d1 > 2 {
			continue
		}
		for _, i := range g.cmds {
			c, words := r.commands[i], r.words[i]
			if len(words) > len(toks) {
				continue
			}
			limit := 1
			if len(c.Words) > 5 {
				limit = 2
			}
			d := d1
			for j := 1; j < len(words) && d <= limit; j++ {
				d += editDistance(toks[j].text, words[j], limit-d)
			}
			if d <= limit && d < bestDist {
				best, bestDist = c, d
			}
		}
	}
	return best
}

// letterMask is the set of bytes in w, folded to lower case as
// editDistance folds them: a bit for each letter and digit, the rest
// sharing bits. Sharing only makes two words look closer, so the
// difference of two masks still never exceeds their distance.
func letterMask(w string) uint64 {
	var m uint64
	for i := 0; i < len(w); i++ {
		c := foldByte(w[i])
		switch {
		case 'a' <= c && c <= 'z':
			m |= 1 << (c - 'a')
		case '0' <= c && c <= '9':
			m |= 1 << (26 + c - '0')
		default:
			m |= 1 << (36 + c%28)
		}
	}
	return m
}

// editDistance is the optimal-string-alignment distance between a, folded
// to lower case, and b, which is lower case,
// which counts a swap of two neighbouring letters ("pnig") as one edit. It
// stops early and returns limit+1 once the distance must exceed limit.
func editDistance(a, b string, limit int) int {
	if limit < 0 {
		return 1
	}
	if d := len(a) - len(b); d > limit || -d > limit {
		return limit + 1
	}
	if strings.EqualFold(a, b) {
		return 0
	}
	// Three rows of the dynamic programme suffice for the swap rule; for
	// words of ordinary length they live on the stack.
	var rows [3][32]int
	prev2, prev, cur := rows[0][:], rows[1][:], rows[2][:]
	if len(b)+1 > len(prev) {
		prev2, prev, cur = make([]int, len(b)+1), make([]int, len(b)+1), make([]int, len(b)+1)
	}
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		rowMin := cur[0]
		for j := 1; j <= len(b); j++ {
			cost := 1
			if foldByte(a[i-1]) == b[j-1] {
				cost = 0
			}
			v := min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && foldByte(a[i-1]) == b[j-2] && foldByte(a[i-2]) == b[j-1] {
				v = min(v, prev2[j-2]+1)
			}
			cur[j] = v
			rowMin = min(rowMin, v)
		}
		if rowMin > limit {
			return limit + 1
		}
		prev2, prev, cur = prev, cur, prev2
	}
	// The last row can end above limit+1 even though it held a smaller
	// value elsewhere; the promise is limit+1 for anything beyond limit.
	return min(prev[len(b)], limit+1)
}
