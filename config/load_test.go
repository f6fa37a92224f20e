package config

import (
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// testEnv is a hermetic environment: HOME fixes the default data_dir.
var testEnv = []string{"HOME=/home/tester"}

// golden compares got with testdata/name.golden, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs from %s\n--- got:\n%s\n--- want:\n%s", name, path, got, want)
	}
}

// TestLoadFiles loads each fixture and compares the effective config (on
// success) or the error (on failure) with its golden file.
func TestLoadFiles(t *testing.T) {
	tests := []struct {
		fixture string
		wantErr bool
	}{
		{"valid", false},
		{"empty", false},
		{"anchors", false},
		{"nulls", false},
		{"unknown_key", true},
		{"wrong_type", true},
		{"several_errors", true},
		{"duplicate_key", true},
		{"syntax_error", true},
		{"two_documents", true},
		{"merge_loop", true},
		{"access", false},
		{"access_errors", true},
		{"access_shape", true},
		{"ingest", false},
		{"ingest_errors", true},
		{"slack", false},
		{"slack_errors", true},
		{"slack_socket_errors", true},
		{"xmpp_errors", true},
		{"key_provider", false},
		{"key_provider_errors", true},
		{"redis", false},
		{"redis_errors", true},
		{"schedules", false},
		{"schedules_errors", true},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			cfg, err := Load(filepath.Join("testdata", tt.fixture+".yaml"), testEnv)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Load error = %v, want error: %v", err, tt.wantErr)
			}
			var got []byte
			if err != nil {
				got = []byte(err.Error() + "\n")
			} else if got, err = cfg.Redacted(); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(got), "hunter2") || strings.Contains(string(got), "xoxb") {
				t.Errorf("output shows a secret:\n%s", got)
			}
			golden(t, tt.fixture, got)
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"), testEnv)
	if err == nil || !strings.Contains(err.Error(), "nope.yaml") {
		t.Fatalf("Load of a missing file: err = %v, want one naming the file", err)
	}
}

func TestDefaultsValidate(t *testing.T) {
	cfg := Defaults()
	cfg.derivePaths(lookupIn(testEnv))
	if err := cfg.Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
	loaded, err := Load("", testEnv)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(loaded, cfg) {
		t.Errorf("Load with no file or variables = %+v, want the defaults %+v", loaded, cfg)
	}
}

func TestDerivedPaths(t *testing.T) {
	tests := []struct {
		name      string
		env       []string
		wantDir   string
		wantStore string
	}{
		{"home", []string{"HOME=/home/a"}, "/home/a/.local/share/seipbot", "/home/a/.local/share/seipbot/seipbot.db"},
		{"xdg wins", []string{"HOME=/home/a", "XDG_DATA_HOME=/data"}, "/data/seipbot", "/data/seipbot/seipbot.db"},
		{"relative xdg is ignored", []string{"HOME=/home/a", "XDG_DATA_HOME=data"}, "/home/a/.local/share/seipbot", "/home/a/.local/share/seipbot/seipbot.db"},
		{"data_dir moves the store", []string{"HOME=/home/a", "SEIPBOT_DATA_DIR=/srv/bot"}, "/srv/bot", "/srv/bot/seipbot.db"},
		{"store path kept", []string{"SEIPBOT_DATA_DIR=/srv/bot", "SEIPBOT_STORE_PATH=/tmp/x.db"}, "/srv/bot", "/tmp/x.db"},
		{"memory needs no home", []string{"SEIPBOT_STORE_KIND=memory"}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Load("", tt.env)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.DataDir != tt.wantDir || cfg.Store.Path != tt.wantStore {
				t.Errorf("data_dir, store.path = %q, %q; want %q, %q", cfg.DataDir, cfg.Store.Path, tt.wantDir, tt.wantStore)
			}
		})
	}
}

func TestBoltWithoutHome(t *testing.T) {
	_, err := Load("", nil)
	if err == nil || !strings.Contains(err.Error(), "store.path:") {
		t.Fatalf("Load with no HOME: err = %v, want a store.path error", err)
	}
}

// TestRedactedRoundTrip checks that `config print` output is itself a valid
// config that loads back to the same values.
func TestRedactedRoundTrip(t *testing.T) {
	cfg, err := Load(filepath.Join("testdata", "valid.yaml"), testEnv)
	if err != nil {
		t.Fatal(err)
	}
	// An empty secret prints as itself, and so does one whose value is the
	// placeholder, so both round-trip.
	cfg.SecretKey = ""
	cfg.Adapters.IRC.Password = "[redacted]"
	cfg.Adapters.IRC.ChannelKeys = ""
	cfg.Adapters.Matrix.AccessToken = "[redacted]"
	cfg.Adapters.XMPP.Password = "[redacted]"
	cfg.Adapters.XMPP.Rooms[1].Password = "[redacted]"
	cfg.Adapters.Mattermost.Token = "[redacted]"
	cfg.Adapters.Mattermost.ActionSecret = ""
	out, err := cfg.Redacted()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "printed.yaml")
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
	again, err := Load(path, testEnv)
	if err != nil {
		t.Fatalf("printed config does not load: %v\n%s", err, out)
	}
	if !reflect.DeepEqual(again, cfg) {
		t.Errorf("round trip changed the config:\n got %+v\nwant %+v", again, cfg)
	}
}

func TestLocation(t *testing.T) {
	cfg := Defaults()
	cfg.Timezone = "Europe/Berlin"
	if got := cfg.Location().String(); got != "Europe/Berlin" {
		t.Errorf("Location() = %s, want Europe/Berlin", got)
	}
	cfg.Timezone = "Mars/Olympus_Mons"
	if got := cfg.Location(); got != time.UTC {
		t.Errorf("Location() of an unknown zone = %s, want UTC", got)
	}
}

// TestMatrixStateFile: the Matrix sync position lives in data_dir unless
// state_file says otherwise.
func TestMatrixStateFile(t *testing.T) {
	env := []string{"SEIPBOT_DATA_DIR=/srv/bot", "SEIPBOT_ADAPTERS_MATRIX_HOMESERVER=https://matrix.example.com", "SEIPBOT_ADAPTERS_MATRIX_ACCESS_TOKEN=t"}
	cfg, err := Load("", env)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Adapters.Matrix.StateFile; got != "/srv/bot/matrix.json" {
		t.Errorf("state_file = %q; want /srv/bot/matrix.json", got)
	}
	cfg, err = Load("", append(env, "SEIPBOT_ADAPTERS_MATRIX_STATE_FILE=/tmp/m.json"))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Adapters.Matrix.StateFile; got != "/tmp/m.json" {
		t.Errorf("state_file = %q; want /tmp/m.json", got)
	}
}
