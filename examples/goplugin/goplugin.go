// Package goplugin is a complete example of a seipbot plugin written in
// Go, for a team to copy: two commands that defang and refang indicators
// of compromise, so a URL pasted in a room cannot be clicked by accident,
// and a hear pattern that links every CVE mentioned in a room.
//
// It uses only the public API of package bot, as the built-in plugins do,
// and is tested with bottest (see goplugin_test.go). To add it to the bot,
// list it in cmd/seipbot/wire.go with the other plugins.
package goplugin

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/seipbot/seipbot/bot"
)

// Plugin is the ioc plugin. Its zero value is ready to use.
type Plugin struct {
	// CVEURL is where a CVE id links to, with %s for the id; empty means
	// the NVD.
	CVEURL string
}

// Name returns "ioc"; help lists the commands under it.
func (p *Plugin) Name() string { return "ioc" }

// Register declares the commands and the hear pattern. Mistakes in a
// declaration make the bot refuse to start, naming the plugin.
func (p *Plugin) Register(r *bot.Registry) error {
	if p.CVEURL == "" {
		p.CVEURL = "https://nvd.nist.gov/vuln/detail/%s"
	}
	if strings.Count(p.CVEURL, "%s") != 1 {
		return fmt.Errorf("CVEURL %q must contain one %%s", p.CVEURL)
	}
	r.Command(bot.Command{
		Words: "defang",
		// A Rest argument takes the rest of the line exactly as typed.
		Args:     []bot.Arg{{Name: "text", Kind: bot.Rest, Optional: true, Help: "URLs, host names or addresses"}},
		Help:     "make URLs and addresses safe to paste: hxxps://evil[.]com",
		Examples: []string{"defang https://evil.example/payload.exe"},
		Handler:  bot.HandlerFunc(defang),
	})
	r.Command(bot.Command{
		Words:    "refang",
		Args:     []bot.Arg{{Name: "text", Kind: bot.Rest, Help: "defanged indicators"}},
		Help:     "turn defanged indicators back into what a tool can read",
		Examples: []string{"refang hxxps://evil[.]example/payload.exe"},
		// Refanged URLs are live again; only analysts should ask for them.
		// Access control checks Permission; Sensitive refuses the command
		// when no policy grants it.
		Permission: "ioc.refang",
		Sensitive:  true,
		Handler:    bot.HandlerFunc(refang),
	})
	r.Hear(bot.Hear{
		Name:    "cve",
		Pattern: `\bCVE-\d{4}-\d{4,}\b`,
		Help:    "link CVE ids mentioned in a room",
		Handler: bot.HandlerFunc(p.linkCVEs),
	})
	return nil
}

var (
	fangs = strings.NewReplacer("http://", "hxxp://", "https://", "hxxps://", ".", "[.]", "@", "[@]")
	// Defanged forms people write by hand as well as ours.
	unfangs = strings.NewReplacer("hxxp://", "http://", "hxxps://", "https://", "[.]", ".", "(.)", ".", "[dot]", ".", "[@]", "@", "[at]", "@")
)

func defang(ctx context.Context, w bot.Responder, m *bot.Message) error {
	text := strings.TrimSpace(m.Args.String("text"))
	if text == "" {
		// A UserError's message goes to the user as it is; any other
		// error is logged and the user gets an error id.
		return bot.Userf("Give me something to defang, such as \"defang https://evil.example\".")
	}
	return w.Reply(ctx, "`"+fangs.Replace(text)+"`")
}

func refang(ctx context.Context, w bot.Responder, m *bot.Message) error {
	return w.Reply(ctx, "`"+unfangs.Replace(strings.TrimSpace(m.Args.String("text")))+"`")
}

var cveID = regexp.MustCompile(`\bCVE-\d{4}-\d{4,}\b`)

// linkCVEs answers a line that mentions CVEs with a link for each, once.
// m.Match holds the first match; the line may have more.
func (p *Plugin) linkCVEs(ctx context.Context, w bot.Responder, m *bot.Message) error {
	var links []string
	seen := map[string]bool{}
	for _, id := range cveID.FindAllString(m.Text, 5) {
		if !seen[id] {
			seen[id] = true
			links = append(links, fmt.Sprintf("%s: "+p.CVEURL, id, id))
		}
	}
	return w.Reply(ctx, strings.Join(links, "\n"))
}
