package script

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

const versionManifest = "program: %s\ncommands: [{words: version, help: say the version}]\n"

func TestReload(t *testing.T) {
	fx := open(t, Options{}, map[string]string{
		"ver.yaml": strings.Replace(versionManifest, "%s", "v1.sh", 1),
		"v1.sh":    "#!/bin/sh\necho one\n",
		"v2.sh":    "#!/bin/sh\necho two\n",
	})
	ctx := context.Background()
	if got := fx.say(t, "version"); !slices.Equal(got, []string{"one"}) {
		t.Fatalf("before a reload: %q", got)
	}

	steps := []struct {
		name     string
		files    map[string]string
		remove   string
		say      string
		want     string
		loaded   []string
		problems []string
	}{
		{name: "nothing changed", say: "version", want: "one"},
		{
			name:     "broken YAML keeps the old version",
			files:    map[string]string{"ver.yaml": "program: v2.sh\ncommands: [{words: version"},
			say:      "version",
			want:     "one",
			problems: []string{"ver.yaml: yaml:"},
		},
		{
			name:     "invalid manifest keeps the old version",
			files:    map[string]string{"ver.yaml": "program: v3.sh\ncommands: [{words: version, help: say the version}]\n"},
			say:      "version",
			want:     "one",
			problems: []string{"v3.sh is not an executable file"},
		},
		{
			name:   "valid manifest replaces it",
			files:  map[string]string{"ver.yaml": strings.Replace(versionManifest, "%s", "v2.sh", 1)},
			say:    "version",
			want:   "two",
			loaded: []string{"ver"},
		},
		{
			name:     "new arguments take a restart",
			files:    map[string]string{"ver.yaml": "program: v1.sh\ncommands: [{words: version, help: say the version, args: [{name: x, kind: word}]}]\n"},
			say:      "version",
			want:     "two",
			problems: []string{"takes a restart"},
		},
		{
			name:     "a new plugin takes a restart",
			files:    map[string]string{"new.yaml": "program: v1.sh\ncommands: [{words: fresh, help: new}]\n"},
			say:      "fresh",
			want:     `I don't know "fresh"`,
			problems: []string{"new.yaml: the plugin is new; restart the bot", "takes a restart"},
		},
		{
			name:     "a removed manifest disables its commands",
			remove:   "ver.yaml",
			say:      "version",
			want:     `"version" has been removed`,
			problems: []string{"new.yaml: the plugin is new"},
		},
	}
	for _, s := range steps {
		writeFiles(t, fx.dir, s.files)
		if s.remove != "" {
			os.Remove(filepath.Join(fx.dir, s.remove))
		}
		rep, err := fx.f.Reload(ctx)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if !slices.Equal(rep.Loaded, s.loaded) {
			t.Errorf("%s: loaded %q, want %q", s.name, rep.Loaded, s.loaded)
		}
		if len(rep.Problems) != len(s.problems) {
			t.Errorf("%s: problems %v, want %q", s.name, rep.Problems, s.problems)
		}
		for i, p := range rep.Problems {
			if i < len(s.problems) && !strings.Contains(p.Error(), s.problems[i]) {
				t.Errorf("%s: problem %q does not contain %q", s.name, p, s.problems[i])
			}
		}
		if got := fx.say(t, s.say); len(got) != 1 || !strings.Contains(got[0], s.want) {
			t.Errorf("%s: %q answers %q, want %q", s.name, s.say, got, s.want)
		}
	}
	if !strings.Contains(fx.log.String(), "plugin manifest not loaded; the previous version stays") {
		t.Errorf("rejections are not logged:\n%s", fx.log)
	}
}

// TestReloadNotifiesOnce tells admins about a broken manifest when it
// appears, not at every poll after.
func TestReloadNotifiesOnce(t *testing.T) {
	fx := open(t, Options{}, map[string]string{
		"ver.yaml": strings.Replace(versionManifest, "%s", "v1.sh", 1),
		"v1.sh":    "#!/bin/sh\necho one\n",
	})
	var notes []string
	fx.f.opts.Notify = func(_ context.Context, text string) { notes = append(notes, text) }
	fx.say(t)
	writeFiles(t, fx.dir, map[string]string{"ver.yaml": "commands: 3"})
	for range 3 {
		if _, err := fx.f.Reload(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "ver.yaml") {
		t.Errorf("notes %q, want one naming ver.yaml", notes)
	}
}

func TestPoll(t *testing.T) {
	fx := open(t, Options{Poll: 10 * time.Millisecond}, map[string]string{
		"ver.yaml": strings.Replace(versionManifest, "%s", "v1.sh", 1),
		"v1.sh":    "#!/bin/sh\necho one\n",
		"v2.sh":    "#!/bin/sh\necho two\n",
	})
	fx.say(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- fx.f.Run(ctx) }()
	writeFiles(t, fx.dir, map[string]string{"ver.yaml": strings.Replace(versionManifest, "%s", "v2.sh", 1)})
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(fx.log.String(), "plugin loaded") < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("the poll did not reload:\n%s", fx.log)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := fx.say(t, "version"); !slices.Equal(got, []string{"two"}) {
		t.Errorf("after the poll: %q", got)
	}
}

func TestReloadCommand(t *testing.T) {
	fx := open(t, Options{}, map[string]string{
		"ver.yaml": strings.Replace(versionManifest, "%s", "v1.sh", 1),
		"bad.yaml": "type: ftp\n",
		"v1.sh":    "#!/bin/sh\necho one\n",
	})
	got := fx.say(t, "plugins reload")
	if len(got) != 1 || !strings.HasPrefix(got[0], "No plugin changed.\nNot loaded, the previous version stays:\n- ") || !strings.Contains(got[0], `bad.yaml: type: "ftp" is not a plugin type`) {
		t.Errorf("plugins reload answers %q", got)
	}
}
