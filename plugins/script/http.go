package script

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/seipbot/seipbot/bot"
)

// httpSpec is the http section of a manifest of type http.
type httpSpec struct {
	// BaseURL is the API's scheme, host and base path; BaseURLEnv names a
	// variable that overrides it, so one manifest serves every deployment.
	BaseURL    string   `yaml:"base_url"`
	BaseURLEnv string   `yaml:"base_url_env"`
	Headers    []header `yaml:"headers"`
	// MaxBytes caps the response body.
	MaxBytes int64 `yaml:"max_bytes"`
}

// header is a request header with a literal value, or a secret read from
// a variable or a file at each request (so a rotated secret is picked up)
// and never shown anywhere.
type header struct {
	Name     string `yaml:"name"`
	Value    string `yaml:"value"`
	Prefix   string `yaml:"prefix"` // before a secret, such as "Bearer "
	FromEnv  string `yaml:"from_env"`
	FromFile string `yaml:"from_file"`
}

var headerName = regexp.MustCompile(`^[A-Za-z0-9-]+$`)

func (m *manifest) checkHTTP(bad func(string, ...any)) {
	if m.Program != "" || m.Dir != "" || len(m.Env) > 0 {
		bad("program, dir and env are for script plugins; remove them")
	}
	h := m.HTTP
	if h == nil {
		bad("http: is missing; set at least http.base_url")
		m.HTTP = &httpSpec{}
		return
	}
	if h.BaseURL == "" && h.BaseURLEnv == "" {
		bad("http.base_url: is empty; set it, or base_url_env to read it from a variable")
	}
	if h.BaseURL != "" {
		if _, err := checkBaseURL(h.BaseURL); err != nil {
			bad("http.base_url: %v", err)
		}
	}
	if h.BaseURLEnv != "" && !envName.MatchString(h.BaseURLEnv) {
		bad("http.base_url_env: %q is not a variable name", h.BaseURLEnv)
	}
	switch {
	case h.MaxBytes == 0:
		h.MaxBytes = defaultMaxBytes
	case h.MaxBytes < 0:
		bad("http.max_bytes: %d is negative", h.MaxBytes)
	}
	for i, hd := range h.Headers {
		path := fmt.Sprintf("http.headers[%d]", i)
		if !headerName.MatchString(hd.Name) {
			bad("%s.name: %q is not a header name", path, hd.Name)
		}
		sources := 0
		for _, s := range []string{hd.Value, hd.FromEnv, hd.FromFile} {
			if s != "" {
				sources++
			}
		}
		if sources != 1 {
			bad("%s: set exactly one of value, from_env and from_file", path)
		}
		if hd.FromEnv != "" && !envName.MatchString(hd.FromEnv) {
			bad("%s.from_env: %q is not a variable name", path, hd.FromEnv)
		}
		if hd.FromFile != "" && !filepath.IsAbs(hd.FromFile) {
			h.Headers[i].FromFile = filepath.Join(filepath.Dir(m.file), hd.FromFile)
		}
	}
}

// checkBaseURL accepts an absolute http(s) URL without credentials, query
// or fragment: the command's path is appended to it.
func checkBaseURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return nil, errors.New("is not a URL")
	case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
		return nil, fmt.Errorf("%q must be an http or https URL with a host", s)
	case u.User != nil:
		// It would be printed in errors and logs; use a header.
		return nil, errors.New("must not hold a user name or password; send credentials in a header from_env or from_file")
	case u.RawQuery != "" || u.Fragment != "":
		return nil, fmt.Errorf("%q must not have a query or fragment; put them in each command's path", s)
	}
	return u, nil
}

// templateData is what an http command's template sees.
type templateData struct {
	JSON   any               // the decoded response body
	Args   map[string]string // the command's arguments
	Status int               // the HTTP status code
}

// runHTTP calls c's API and answers with its template over the response.
func (f *Folder) runHTTP(ctx context.Context, w bot.Responder, m *bot.Message, p *manifest, c *command, args []namedValue) error {
	h := p.HTTP
	values := map[string]string{}
	for _, a := range args {
		values[a.name] = a.value
	}
	base := h.BaseURL
	if h.BaseURLEnv != "" {
		if v, ok := f.opts.LookupEnv(h.BaseURLEnv); ok && v != "" {
			base = v
		}
	}
	if base == "" {
		return fmt.Errorf("http %s: %s is not set and there is no base_url", p.name, h.BaseURLEnv)
	}
	bu, err := checkBaseURL(base)
	if err != nil {
		return fmt.Errorf("http %s: base URL: %w", p.name, err)
	}
	path, err := c.path.expand(values)
	if err != nil {
		return err
	}
	var body io.Reader
	if c.Method == http.MethodPost {
		b, err := json.Marshal(values)
		if err != nil {
			return fmt.Errorf("http %s: encode body: %w", p.name, err)
		}
		body = bytes.NewReader(b)
	}
	runCtx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(runCtx, c.Method, strings.TrimSuffix(bu.String(), "/")+path, body)
	if err != nil {
		return fmt.Errorf("http %s: %w", p.name, err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	var secrets []string
	for _, hd := range h.Headers {
		v, secret, err := f.headerValue(hd)
		if err != nil {
			return fmt.Errorf("http %s: header %s: %w", p.name, hd.Name, err)
		}
		if secret != "" {
			secrets = append(secrets, secret)
		}
		req.Header.Set(hd.Name, v)
	}

	start := time.Now()
	logArgs := []any{"plugin", p.name, "command", c.Words, "user", m.User.ID, "method", c.Method, "path", path}
	resp, err := f.client.Do(req)
	if err != nil {
		f.log.Warn("http command failed", append(logArgs, "err", scrub(err.Error(), secrets))...)
		switch {
		case ctx.Err() != nil:
			return fmt.Errorf("http %s: %w", p.name, ctx.Err())
		case runCtx.Err() != nil:
			return bot.Userf("%q took longer than %s and was stopped; try again later.", c.Words, p.timeout)
		}
		return bot.Userf("%q could not reach its API; try again later, or tell an admin if it keeps failing.", c.Words)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, h.MaxBytes+1))
	logArgs = append(logArgs, "status", resp.StatusCode, "took", time.Since(start).Round(time.Millisecond))
	switch {
	case err != nil:
		f.log.Warn("http command failed", append(logArgs, "err", scrub(err.Error(), secrets))...)
		return bot.Userf("%q got a broken answer from its API; try again later.", c.Words)
	case int64(len(raw)) > h.MaxBytes:
		f.log.Warn("http response too large", append(logArgs, "max_bytes", h.MaxBytes)...)
		return bot.Userf("%q got an answer larger than %d bytes from its API, which is more than it shows; narrow the request.", c.Words, h.MaxBytes)
	case resp.StatusCode == http.StatusNotFound:
		f.log.Info("http command ran", logArgs...)
		return bot.Userf("%q found nothing for that.", c.Words)
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		// The body is not logged: an API may echo the request, headers
		// and all.
		f.log.Warn("http command failed", logArgs...)
		return bot.Userf("%q failed: its API answered %s; try again later, or tell an admin if it keeps failing.", c.Words, resp.Status)
	}
	data := templateData{Args: values, Status: resp.StatusCode}
	dec := json.NewDecoder(bytes.NewReader(raw))
	// Numbers print as the API wrote them, not as 1e+06.
	dec.UseNumber()
	if err := dec.Decode(&data.JSON); err != nil {
		f.log.Warn("http response is not JSON", logArgs...)
		return bot.Userf("%q got an answer that is not JSON from its API; tell an admin.", c.Words)
	}
	var out bytes.Buffer
	if err := c.tmpl.Execute(&out, data); err != nil {
		return fmt.Errorf("http %s: template: %s", p.name, scrub(err.Error(), secrets))
	}
	f.log.Info("http command ran", logArgs...)
	// An API that echoes the request must not get a secret into the room.
	text := scrub(out.String(), secrets)
	if strings.TrimSpace(text) == "" {
		text = fmt.Sprintf("%q found nothing to show.", c.Words)
	} else if p.Output == "code" {
		text = fence(text)
	}
	return w.Reply(ctx, text)
}

// headerValue returns a header's value and, for a secret header, the
// secret in it. Its errors name the variable or file, never the content.
func (f *Folder) headerValue(h header) (value, secret string, err error) {
	switch {
	case h.FromEnv != "":
		v, ok := f.opts.LookupEnv(h.FromEnv)
		if !ok || v == "" {
			return "", "", fmt.Errorf("variable %s is not set", h.FromEnv)
		}
		return h.Prefix + v, v, nil
	case h.FromFile != "":
		b, err := os.ReadFile(h.FromFile)
		if err != nil {
			return "", "", fmt.Errorf("read %s: %w", h.FromFile, errors.Unwrap(err))
		}
		v := strings.TrimRight(string(b), "\r\n")
		return h.Prefix + v, v, nil
	}
	return h.Prefix + h.Value, "", nil
}

// scrub replaces every secret in s.
func scrub(s string, secrets []string) string {
	for _, v := range secrets {
		s = strings.ReplaceAll(s, v, "[redacted]")
	}
	return s
}
