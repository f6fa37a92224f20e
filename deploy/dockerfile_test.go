package deploy

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction with its continuation lines
// joined.
type instruction struct {
	cmd  string // upper case: FROM, RUN, …
	args string
}

// stage is the instructions from one FROM up to the next.
type stage struct {
	from         string
	instructions []instruction
}

func (s stage) all(cmd string) []string {
	var out []string
	for _, in := range s.instructions {
		if in.cmd == cmd {
			out = append(out, in.args)
		}
	}
	return out
}

// parseDockerfile reads the stages of a Dockerfile. It handles what
// deploy/Dockerfile uses (comments, backslash continuations, ARG defaults
// in FROM), which is all the checks need; it is not a full parser.
func parseDockerfile(t *testing.T, path string) (args map[string]string, stages []stage) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	args = map[string]string{}
	var logical []string
	var cur strings.Builder
	for line := range strings.SplitSeq(string(data), "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") {
			continue
		}
		if body, ok := strings.CutSuffix(trimmed, `\`); ok {
			cur.WriteString(body + " ")
			continue
		}
		cur.WriteString(trimmed)
		if s := strings.TrimSpace(cur.String()); s != "" {
			logical = append(logical, s)
		}
		cur.Reset()
	}
	for _, l := range logical {
		cmd, rest, _ := strings.Cut(l, " ")
		in := instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(rest)}
		switch {
		case in.cmd == "FROM":
			stages = append(stages, stage{from: in.args})
		case len(stages) == 0 && in.cmd == "ARG":
			name, def, _ := strings.Cut(in.args, "=")
			args[name] = def
		case len(stages) > 0:
			stages[len(stages)-1].instructions = append(stages[len(stages)-1].instructions, in)
		}
	}
	return args, stages
}

func TestDockerfile(t *testing.T) {
	args, stages := parseDockerfile(t, "Dockerfile")
	if len(stages) != 2 {
		t.Fatalf("want a build stage and a runtime stage, got %d stages", len(stages))
	}
	build, final := stages[0], stages[1]

	t.Run("static versioned build", func(t *testing.T) {
		runs := strings.Join(build.all("RUN"), "\n")
		for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-X main.version=${VERSION}", "./cmd/seipbot"} {
			if !strings.Contains(runs, want) {
				t.Errorf("the build stage never runs %q", want)
			}
		}
		if !strings.Contains(build.from, "$BUILDPLATFORM") {
			t.Errorf("the build stage runs on %q; want --platform=$BUILDPLATFORM so that it cross-compiles", build.from)
		}
	})

	t.Run("minimal base", func(t *testing.T) {
		base := final.from
		if name, ok := strings.CutPrefix(base, "${"); ok {
			base = args[strings.TrimSuffix(name, "}")]
		}
		// distroless static carries CA certificates and tzdata; scratch
		// would need them copied in, which this Dockerfile does not do.
		if !strings.HasPrefix(base, "gcr.io/distroless/static") {
			t.Errorf("runtime base is %q; want distroless static (CA certificates, tzdata, no shell)", base)
		}
		if runs := final.all("RUN"); len(runs) > 0 {
			t.Errorf("the runtime stage runs %q, but its base has no shell", runs)
		}
	})

	t.Run("non-root numeric user", func(t *testing.T) {
		users := final.all("USER")
		if len(users) == 0 || users[len(users)-1] != "65532:65532" {
			t.Errorf("runtime USER = %q; want 65532:65532 as the last USER", users)
		}
	})

	t.Run("data volume for a read-only root", func(t *testing.T) {
		if v := final.all("VOLUME"); !slices.Contains(v, `["/data"]`) {
			t.Errorf("VOLUME = %q; want [\"/data\"]", v)
		}
		env := strings.Join(final.all("ENV"), " ")
		for _, want := range []string{"SEIPBOT_DATA_DIR=/data", "SEIPBOT_HTTP_LISTEN=:8080"} {
			if !strings.Contains(env, want) {
				t.Errorf("ENV lacks %s", want)
			}
		}
		copies := strings.Join(final.all("COPY"), "\n")
		if !strings.Contains(copies, "--chown=65532:65532 /out/data /data") {
			t.Errorf("/data is not created owned by 65532, so a fresh volume would be root's")
		}
	})

	t.Run("healthcheck without curl", func(t *testing.T) {
		hc := final.all("HEALTHCHECK")
		if len(hc) != 1 {
			t.Fatalf("want one HEALTHCHECK, got %q", hc)
		}
		_, cmd, ok := strings.Cut(hc[0], "CMD ")
		if !ok {
			t.Fatalf("HEALTHCHECK %q has no CMD", hc[0])
		}
		var argv []string
		if err := json.Unmarshal([]byte(cmd), &argv); err != nil {
			t.Fatalf("HEALTHCHECK CMD %s is not the exec (JSON) form, which needs no shell: %v", cmd, err)
		}
		if !slices.Equal(argv, []string{"/seipbot", "healthcheck"}) {
			t.Errorf("HEALTHCHECK runs %q; want [/seipbot healthcheck]", argv)
		}
	})

	t.Run("entrypoint", func(t *testing.T) {
		if e := final.all("ENTRYPOINT"); !slices.Equal(e, []string{`["/seipbot"]`}) {
			t.Errorf("ENTRYPOINT = %q", e)
		}
	})
}
