package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// TestSecretNeverLeaks prints a whole Config every way a careless caller
// might: fmt verbs, YAML, JSON and both slog handlers.
func TestSecretNeverLeaks(t *testing.T) {
	cfg := Defaults()
	cfg.SecretKey = secretValue
	var outputs []string

	// As any, so vet lets %s through: a careless caller's code may well do
	// this via an interface.
	for _, v := range []any{cfg, *cfg} {
		outputs = append(outputs, fmt.Sprintf("%v %+v %#v %s", v, v, v, v))
	}

	printed, err := cfg.Redacted()
	if err != nil {
		t.Fatal(err)
	}
	outputs = append(outputs, string(printed))

	asJSON, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	outputs = append(outputs, string(asJSON))

	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("loaded", "config", cfg, "key", cfg.SecretKey)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("loaded", "config", cfg, "key", cfg.SecretKey)
	outputs = append(outputs, logs.String())

	for _, out := range outputs {
		if strings.Contains(out, secretValue) {
			t.Errorf("secret leaked in:\n%s", out)
		}
		if !strings.Contains(out, "[redacted]") {
			t.Errorf("no [redacted] marker in:\n%s", out)
		}
	}
}
