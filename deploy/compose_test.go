package deploy

import (
	"os"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// composeFile is the part of a compose file the checks read.
type composeFile struct {
	Services map[string]composeService `yaml:"services"`
	Networks map[string]struct {
		Internal bool `yaml:"internal"`
	} `yaml:"networks"`
	Secrets map[string]struct {
		File string `yaml:"file"`
	} `yaml:"secrets"`
}

type composeService struct {
	Image       string            `yaml:"image"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	Secrets     []string          `yaml:"secrets"`
	User        string            `yaml:"user"`
	ReadOnly    bool              `yaml:"read_only"`
	Privileged  bool              `yaml:"privileged"`
	CapDrop     []string          `yaml:"cap_drop"`
	SecurityOpt []string          `yaml:"security_opt"`
	MemLimit    string            `yaml:"mem_limit"`
	Ports       []string          `yaml:"ports"`
	Networks    []string          `yaml:"networks"`
	Volumes     []string          `yaml:"volumes"`
}

// secretName reports whether an environment variable's name says it holds
// a secret; such a variable must be a _FILE pointing at a mounted secret.
func secretName(name string) bool {
	for _, w := range []string{"TOKEN", "PASSWORD", "SECRET", "KEY", "STORE_URL"} {
		if strings.Contains(name, w) {
			return true
		}
	}
	return false
}

func TestCompose(t *testing.T) {
	const path = "compose/docker-compose.yml"
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f composeFile
	if err := yaml.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	bot, ok := f.Services["seipbot"]
	if !ok {
		t.Fatal("no seipbot service")
	}
	redis, ok := f.Services["redis"]
	if !ok {
		t.Fatal("no redis service")
	}

	for name, s := range f.Services {
		t.Run(name+" hardened", func(t *testing.T) {
			if s.User == "" || strings.HasPrefix(s.User, "0") || strings.HasPrefix(s.User, "root") {
				t.Errorf("user = %q; want a numeric non-root user", s.User)
			}
			if !s.ReadOnly {
				t.Error("read_only is not set")
			}
			if s.Privileged {
				t.Error("privileged")
			}
			if !slices.Contains(s.CapDrop, "ALL") {
				t.Errorf("cap_drop = %q; want ALL", s.CapDrop)
			}
			if !slices.Contains(s.SecurityOpt, "no-new-privileges:true") {
				t.Errorf("security_opt = %q; want no-new-privileges:true", s.SecurityOpt)
			}
			if s.MemLimit == "" {
				t.Error("no mem_limit")
			}
			if !slices.ContainsFunc(s.Volumes, func(v string) bool { return strings.HasSuffix(v, ":/data") }) {
				t.Errorf("volumes = %q; want a volume at /data, the only writable place", s.Volumes)
			}
			for _, p := range s.Ports {
				if !strings.HasPrefix(p, "127.0.0.1:") {
					t.Errorf("port %q is published beyond this host", p)
				}
			}
			for k := range s.Environment {
				if secretName(k) && !strings.HasSuffix(k, "_FILE") {
					t.Errorf("%s is a secret in the environment; use %s_FILE and a secret file", k, k)
				}
			}
			for _, sec := range s.Secrets {
				if _, ok := f.Secrets[sec]; !ok {
					t.Errorf("secret %q is not declared", sec)
				}
			}
		})
	}

	t.Run("bot uses redis", func(t *testing.T) {
		env := bot.Environment
		if env["SEIPBOT_STORE_KIND"] != "redis" {
			t.Errorf("SEIPBOT_STORE_KIND = %q; want redis", env["SEIPBOT_STORE_KIND"])
		}
		for _, k := range []string{"SEIPBOT_STORE_URL_FILE", "SEIPBOT_SECRET_KEY_FILE"} {
			if !strings.HasPrefix(env[k], "/run/secrets/") {
				t.Errorf("%s = %q; want a file under /run/secrets", k, env[k])
			}
		}
	})

	t.Run("redis private, authenticated and persistent", func(t *testing.T) {
		if len(redis.Ports) > 0 {
			t.Errorf("redis publishes %q; it must be reachable only on the compose network", redis.Ports)
		}
		for _, n := range redis.Networks {
			if !f.Networks[n].Internal {
				t.Errorf("redis is on network %q, which is not internal", n)
			}
		}
		cmd := strings.Join(redis.Command, " ")
		for _, want := range []string{"/run/secrets/redis_conf", "--appendonly yes", "--maxmemory-policy noeviction"} {
			if !strings.Contains(cmd, want) {
				t.Errorf("redis command %q lacks %q", cmd, want)
			}
		}
		if strings.Contains(cmd, "requirepass") {
			t.Error("the redis password is on the command line")
		}
	})

	t.Run("docker-compose config", func(t *testing.T) {
		dc := tool(t, "SEIPBOT_TEST_COMPOSE", "docker-compose", "scripts/compose.sh")
		run(t, dc, "-f", path, "config", "-q")
	})
}

// TestComposeExampleEnv checks that example.env sets only what the compose
// file reads, and nothing secret, since .env is not a secret store.
func TestComposeExampleEnv(t *testing.T) {
	compose, err := os.ReadFile("compose/docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	env, err := os.ReadFile("compose/example.env")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(env), "\n") {
		if line = strings.TrimSpace(line); line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, _, _ := strings.Cut(line, "=")
		if !strings.Contains(string(compose), "${"+name) {
			t.Errorf("example.env sets %s, which docker-compose.yml never reads", name)
		}
		if secretName(name) {
			t.Errorf("example.env sets %s, a secret; put it in a file under secrets/", name)
		}
	}
}
