package config_test

import (
	"fmt"
	"path/filepath"

	"github.com/seipbot/seipbot/config"
)

func ExampleLoad() {
	// cmd/seipbot passes os.Environ(); here the environment is spelled out.
	env := []string{
		"HOME=/home/alice",
		"SEIPBOT_STORE_KIND=memory",
		"SEIPBOT_RATE_LIMIT_PER_MINUTE=10",
	}
	cfg, err := config.Load(filepath.Join("testdata", "anchors.yaml"), env)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(cfg.Name, cfg.Store.Kind, cfg.RateLimit.PerMinute, cfg.CommandTimeout)
	fmt.Println(cfg.DataDir)
	fmt.Printf("%+v\n", cfg.Commands[2])
	// Output:
	// seipbot memory 10 30s
	// /home/alice/.local/share/seipbot
	// {Command:runbook malware Reply:phishing runbook Help:link a runbook}
}

func ExampleSecret() {
	key := config.Secret("hunter2")
	fmt.Printf("%v %s %q %x\n", key, key, key, key)
	fmt.Println(key.Reveal())
	// Output:
	// [redacted] [redacted] "[redacted]" [redacted]
	// hunter2
}

func ExampleConfig_Validate() {
	cfg := config.Defaults()
	cfg.Store.Kind = "memory"
	cfg.Log.Level = "loud"
	cfg.Hears = []config.Hear{{Pattern: "(", Reply: "hi"}}
	fmt.Println(cfg.Validate())
	// Output:
	// log.level: "loud" is not a log level; use debug, info, warn or error
	// hears[0].pattern: error parsing regexp: missing closing ): `(`; write it in Go's RE2 syntax, which has no lookaround or backreferences
}
