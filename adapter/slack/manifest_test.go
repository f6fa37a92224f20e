package slack_test

import (
	"os"
	"slices"
	"testing"

	"gopkg.in/yaml.v3"

	seipslack "github.com/seipbot/seipbot/adapter/slack"
)

// TestManifestAsksForTheMinimum keeps manifest.yaml's scopes the ones the
// adapter uses and warns about.
func TestManifestAsksForTheMinimum(t *testing.T) {
	b, err := os.ReadFile("manifest.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		OAuth struct {
			Scopes struct {
				Bot []string `yaml:"bot"`
			} `yaml:"scopes"`
		} `yaml:"oauth_config"`
	}
	if err := yaml.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	got, want := slices.Sorted(slices.Values(m.OAuth.Scopes.Bot)), slices.Sorted(slices.Values(seipslack.MinimumScopes))
	if !slices.Equal(got, want) {
		t.Errorf("manifest.yaml asks for %v; the adapter uses %v", got, want)
	}
}
