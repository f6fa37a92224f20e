package deploy

import (
	"encoding/json"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// taskDef is the part of an ECS task definition the checks read, in the
// JSON form that `aws ecs register-task-definition --cli-input-json` takes.
type taskDef struct {
	Family                  string         `json:"family"`
	NetworkMode             string         `json:"networkMode"`
	RequiresCompatibilities []string       `json:"requiresCompatibilities"`
	Memory                  string         `json:"memory"`
	TaskRoleArn             string         `json:"taskRoleArn"`
	ExecutionRoleArn        string         `json:"executionRoleArn"`
	ContainerDefinitions    []containerDef `json:"containerDefinitions"`
}

type containerDef struct {
	Name                   string     `json:"name"`
	User                   string     `json:"user"`
	Privileged             bool       `json:"privileged"`
	ReadonlyRootFilesystem bool       `json:"readonlyRootFilesystem"`
	Memory                 int        `json:"memory"`
	Command                []string   `json:"command"`
	Environment            []nameVal  `json:"environment"`
	Secrets                []nameFrom `json:"secrets"`
	PortMappings           []struct {
		ContainerPort int `json:"containerPort"`
	} `json:"portMappings"`
	MountPoints     []mountPoint `json:"mountPoints"`
	LinuxParameters struct {
		Capabilities struct {
			Add  []string `json:"add"`
			Drop []string `json:"drop"`
		} `json:"capabilities"`
	} `json:"linuxParameters"`
	HealthCheck *struct {
		Command []string `json:"command"`
	} `json:"healthCheck"`
	DependsOn        []dependency `json:"dependsOn"`
	LogConfiguration struct {
		LogDriver string            `json:"logDriver"`
		Options   map[string]string `json:"options"`
	} `json:"logConfiguration"`
}

type nameVal struct{ Name, Value string }
type mountPoint struct {
	ContainerPath string `json:"containerPath"`
}
type dependency struct {
	ContainerName string `json:"containerName"`
	Condition     string `json:"condition"`
}
type nameFrom struct{ Name, ValueFrom string }

func (c containerDef) env(name string) (string, bool) {
	for _, e := range c.Environment {
		if e.Name == name {
			return e.Value, true
		}
	}
	return "", false
}

func (c containerDef) secret(name string) bool {
	return slices.ContainsFunc(c.Secrets, func(s nameFrom) bool { return s.Name == name && s.ValueFrom != "" })
}

func readTaskDef(t *testing.T, path string) taskDef {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var td taskDef
	if err := json.Unmarshal(data, &td); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return td
}

func TestECSTaskDefinitions(t *testing.T) {
	for _, tc := range []struct {
		file       string
		containers []string
	}{
		{"ecs/taskdef-elasticache.json", []string{"seipbot"}},
		{"ecs/taskdef-sidecar.json", []string{"redis", "seipbot"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			td := readTaskDef(t, tc.file)
			if !slices.Equal(td.RequiresCompatibilities, []string{"FARGATE"}) || td.NetworkMode != "awsvpc" {
				t.Errorf("want a Fargate task in awsvpc mode, got %q in %q", td.RequiresCompatibilities, td.NetworkMode)
			}
			if td.TaskRoleArn == "" || td.ExecutionRoleArn == "" {
				t.Error("want both a task role and an execution role, so each holds only its own rights")
			}
			var names []string
			var sum int
			for _, c := range td.ContainerDefinitions {
				names = append(names, c.Name)
				sum += c.Memory
				checkContainer(t, c)
			}
			if !slices.Equal(names, tc.containers) {
				t.Errorf("containers = %q; want %q", names, tc.containers)
			}
			if limit, _ := strconv.Atoi(td.Memory); sum > limit {
				t.Errorf("containers' memory adds up to %d MiB, over the task's %s", sum, td.Memory)
			}
			bot := td.ContainerDefinitions[len(td.ContainerDefinitions)-1]
			checkBot(t, bot)
			if len(td.ContainerDefinitions) == 2 {
				checkSidecar(t, td.ContainerDefinitions[0], bot)
			}
		})
	}
}

// checkContainer checks what every container keeps, the bot and Redis alike.
func checkContainer(t *testing.T, c containerDef) {
	t.Helper()
	uid, _, _ := strings.Cut(c.User, ":")
	if n, err := strconv.Atoi(uid); err != nil || n == 0 {
		t.Errorf("%s: user %q; want a numeric non-root user", c.Name, c.User)
	}
	if c.Privileged {
		t.Errorf("%s: privileged", c.Name)
	}
	if !c.ReadonlyRootFilesystem {
		t.Errorf("%s: root filesystem is writable", c.Name)
	}
	if c.Memory <= 0 {
		t.Errorf("%s: no hard memory limit", c.Name)
	}
	if !slices.Equal(c.LinuxParameters.Capabilities.Drop, []string{"ALL"}) || len(c.LinuxParameters.Capabilities.Add) > 0 {
		t.Errorf("%s: capabilities %+v; want all dropped and none added", c.Name, c.LinuxParameters.Capabilities)
	}
	if !slices.ContainsFunc(c.MountPoints, func(m mountPoint) bool { return m.ContainerPath == "/data" }) {
		t.Errorf("%s: no volume at /data, the only writable place", c.Name)
	}
	lc := c.LogConfiguration
	if lc.LogDriver != "awslogs" || lc.Options["awslogs-group"] == "" || lc.Options["awslogs-region"] == "" {
		t.Errorf("%s: logs go to %q %v; want awslogs with a group and region", c.Name, lc.LogDriver, lc.Options)
	}
	if c.HealthCheck == nil || len(c.HealthCheck.Command) == 0 {
		t.Errorf("%s: no health check", c.Name)
	}
	for _, e := range c.Environment {
		if secretName(e.Name) {
			t.Errorf("%s: %s is in environment; secrets belong in \"secrets\" (Secrets Manager or SSM)", c.Name, e.Name)
		}
		if strings.HasPrefix(e.Value, "arn:") {
			t.Errorf("%s: %s holds an ARN in environment; did you mean secrets?", c.Name, e.Name)
		}
	}
}

func checkBot(t *testing.T, c containerDef) {
	t.Helper()
	if c.Name != "seipbot" {
		t.Fatalf("last container is %q; want seipbot", c.Name)
	}
	for _, s := range []string{"SEIPBOT_SECRET_KEY", "SEIPBOT_STORE_URL"} {
		if !c.secret(s) {
			t.Errorf("%s is not read from a secret", s)
		}
	}
	if !slices.ContainsFunc(c.Secrets, func(s nameFrom) bool { return strings.HasPrefix(s.Name, "SEIPBOT_ADAPTERS_") }) {
		t.Error("no chat token among the secrets")
	}
	if v, _ := c.env("SEIPBOT_STORE_KIND"); v != "redis" {
		t.Errorf("SEIPBOT_STORE_KIND = %q; want redis", v)
	}
	if v, _ := c.env("SEIPBOT_HTTP_LISTEN"); v != ":8080" {
		t.Errorf("SEIPBOT_HTTP_LISTEN = %q; want :8080", v)
	}
	if len(c.PortMappings) != 1 || c.PortMappings[0].ContainerPort != 8080 {
		t.Errorf("port mappings %+v; want the webhook port 8080 only", c.PortMappings)
	}
	if c.HealthCheck != nil && !slices.Equal(c.HealthCheck.Command, []string{"CMD", "/seipbot", "healthcheck"}) {
		t.Errorf("health check runs %q; want [CMD /seipbot healthcheck]", c.HealthCheck.Command)
	}
}

// checkSidecar checks the layout with Redis in the task: Redis listens on
// the task's loopback only, with a password from a secret that never
// reaches its command line, and the bot waits for it.
func checkSidecar(t *testing.T, redis, bot containerDef) {
	t.Helper()
	if len(redis.PortMappings) > 0 {
		t.Errorf("redis maps ports %+v; the bot reaches it over the task's loopback", redis.PortMappings)
	}
	cmd := strings.Join(redis.Command, " ")
	for _, want := range []string{"--bind 127.0.0.1", "--appendonly yes", "--maxmemory-policy noeviction", "requirepass $REDIS_PASSWORD"} {
		if !strings.Contains(cmd, want) {
			t.Errorf("redis command lacks %q", want)
		}
	}
	if strings.Contains(cmd, "--requirepass") {
		t.Error("the redis password is an argument, which ps shows; feed it as configuration on stdin")
	}
	if !redis.secret("REDIS_PASSWORD") {
		t.Error("REDIS_PASSWORD is not read from a secret")
	}
	if !slices.ContainsFunc(bot.DependsOn, func(d dependency) bool { return d.ContainerName == "redis" && d.Condition == "HEALTHY" }) {
		t.Error("the bot does not wait for redis to be healthy")
	}
}
