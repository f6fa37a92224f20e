package deploy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

const chartDir = "helm/seipbot"

// kubeVersion is given to helm because a helm built with go install lacks
// the Kubernetes version its release builds stamp in, and falls back to one
// older than the chart's kubeVersion.
const kubeVersion = "1.31.0"

// manifest is the part of a rendered Kubernetes object the checks read.
type manifest struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	AutomountServiceAccountToken *bool `yaml:"automountServiceAccountToken"`
	Spec                         struct {
		Replicas *int `yaml:"replicas"`
		Strategy struct {
			Type string `yaml:"type"`
		} `yaml:"strategy"`
		Template struct {
			Spec podSpec `yaml:"spec"`
		} `yaml:"template"`
		// NetworkPolicy
		PolicyTypes []string     `yaml:"policyTypes"`
		Ingress     []policyRule `yaml:"ingress"`
		Egress      []policyRule `yaml:"egress"`
		// PodDisruptionBudget
		MaxUnavailable *int `yaml:"maxUnavailable"`
	} `yaml:"spec"`
}

type policyRule struct {
	Ports []struct {
		Port any `yaml:"port"`
	} `yaml:"ports"`
}

type podSpec struct {
	AutomountServiceAccountToken *bool  `yaml:"automountServiceAccountToken"`
	ServiceAccountName           string `yaml:"serviceAccountName"`
	SecurityContext              struct {
		RunAsNonRoot   *bool `yaml:"runAsNonRoot"`
		RunAsUser      int   `yaml:"runAsUser"`
		SeccompProfile struct {
			Type string `yaml:"type"`
		} `yaml:"seccompProfile"`
	} `yaml:"securityContext"`
	Containers []struct {
		Name            string `yaml:"name"`
		SecurityContext struct {
			AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
			Privileged               bool  `yaml:"privileged"`
			ReadOnlyRootFilesystem   *bool `yaml:"readOnlyRootFilesystem"`
			RunAsNonRoot             *bool `yaml:"runAsNonRoot"`
			Capabilities             struct {
				Add  []string `yaml:"add"`
				Drop []string `yaml:"drop"`
			} `yaml:"capabilities"`
			SeccompProfile struct {
				Type string `yaml:"type"`
			} `yaml:"seccompProfile"`
		} `yaml:"securityContext"`
		Env []struct {
			Name      string `yaml:"name"`
			Value     string `yaml:"value"`
			ValueFrom any    `yaml:"valueFrom"`
		} `yaml:"env"`
		LivenessProbe  *probe `yaml:"livenessProbe"`
		ReadinessProbe *probe `yaml:"readinessProbe"`
		Resources      struct {
			Limits map[string]string `yaml:"limits"`
		} `yaml:"resources"`
		VolumeMounts []volumeMount `yaml:"volumeMounts"`
	} `yaml:"containers"`
}

type volumeMount struct {
	MountPath string `yaml:"mountPath"`
}

type probe struct {
	HTTPGet struct {
		Path string `yaml:"path"`
		Port any    `yaml:"port"`
	} `yaml:"httpGet"`
}

// helmTemplate renders the chart with --set values and returns the objects
// by kind, or helm's error output.
func helmTemplate(t *testing.T, helm string, set ...string) (map[string]manifest, string, error) {
	t.Helper()
	args := []string{"template", "t", chartDir, "--kube-version", kubeVersion}
	for _, s := range set {
		args = append(args, "--set", s)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(helm, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, stderr.String(), err
	}
	objs := map[string]manifest{}
	dec := yaml.NewDecoder(&stdout)
	for {
		var m manifest
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("rendered chart: %v", err)
		}
		if m.Kind != "" {
			objs[m.Kind] = m
		}
	}
	return objs, "", nil
}

func TestHelmChart(t *testing.T) {
	helm := tool(t, "SEIPBOT_TEST_HELM", "helm", "scripts/helm.sh")
	run(t, helm, "lint", "--strict", "--kube-version", kubeVersion, chartDir)

	t.Run("one replica on bolt", func(t *testing.T) {
		objs, msg, err := helmTemplate(t, helm)
		if err != nil {
			t.Fatalf("%v: %s", err, msg)
		}
		for _, kind := range []string{"Deployment", "ServiceAccount", "Service", "NetworkPolicy", "PodDisruptionBudget", "PersistentVolumeClaim"} {
			if _, ok := objs[kind]; !ok {
				t.Errorf("no %s rendered", kind)
			}
		}
		if _, ok := objs["ServiceMonitor"]; ok {
			t.Error("a ServiceMonitor is rendered though it is off by default")
		}
		d := objs["Deployment"]
		checkPodSecurity(t, d.Spec.Template.Spec)
		if d.Spec.Strategy.Type != "Recreate" {
			t.Errorf("strategy %q with a bolt store; want Recreate, since the file opens in one pod only", d.Spec.Strategy.Type)
		}
		if sa := objs["ServiceAccount"]; sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken {
			t.Error("the ServiceAccount mounts its token")
		}
		np := objs["NetworkPolicy"]
		if !slices.Equal(np.Spec.PolicyTypes, []string{"Ingress", "Egress"}) {
			t.Errorf("NetworkPolicy policyTypes %q; want both, so that the rest is denied", np.Spec.PolicyTypes)
		}
		if ports := rulePorts(np.Spec.Egress); !slices.Equal(ports, []string{"443", "53", "53"}) {
			t.Errorf("egress to ports %q; want DNS and HTTPS only", ports)
		}
		if ports := rulePorts(np.Spec.Ingress); !slices.Equal(ports, []string{"http"}) {
			t.Errorf("ingress to ports %q; want the http port only", ports)
		}
	})

	t.Run("replicas need redis", func(t *testing.T) {
		_, msg, err := helmTemplate(t, helm, "replicaCount=3")
		if err == nil || !strings.Contains(msg, "needs store.kind=redis") {
			t.Errorf("three replicas on bolt rendered (err %v, %q); want the chart to refuse", err, msg)
		}
		_, msg, err = helmTemplate(t, helm, "store.kind=redis")
		if err == nil || !strings.Contains(msg, "store.urlSecret.name") {
			t.Errorf("redis without a URL secret rendered (err %v, %q)", err, msg)
		}
	})

	t.Run("three replicas on redis", func(t *testing.T) {
		objs, msg, err := helmTemplate(t, helm, "replicaCount=3", "store.kind=redis", "store.urlSecret.name=seipbot-redis", "serviceMonitor.enabled=true")
		if err != nil {
			t.Fatalf("%v: %s", err, msg)
		}
		d := objs["Deployment"]
		if d.Spec.Replicas == nil || *d.Spec.Replicas != 3 {
			t.Errorf("replicas = %v; want 3", d.Spec.Replicas)
		}
		if d.Spec.Strategy.Type != "RollingUpdate" {
			t.Errorf("strategy %q; want RollingUpdate with redis", d.Spec.Strategy.Type)
		}
		checkPodSecurity(t, d.Spec.Template.Spec)
		env := map[string]string{}
		for _, e := range d.Spec.Template.Spec.Containers[0].Env {
			env[e.Name] = e.Value
		}
		if env["SEIPBOT_STORE_KIND"] != "redis" || env["SEIPBOT_STORE_URL_FILE"] == "" {
			t.Errorf("store env %q, %q; want redis and a URL file", env["SEIPBOT_STORE_KIND"], env["SEIPBOT_STORE_URL_FILE"])
		}
		if _, ok := objs["PersistentVolumeClaim"]; ok {
			t.Error("a volume claim is rendered though the state is in redis")
		}
		if _, ok := objs["ServiceMonitor"]; !ok {
			t.Error("no ServiceMonitor though it is enabled")
		}
		if ports := rulePorts(objs["NetworkPolicy"].Spec.Egress); !slices.Contains(ports, "6379") {
			t.Errorf("egress to ports %q; want redis's 6379 too", ports)
		}
	})
}

// checkPodSecurity checks the restricted Pod Security Standard's settings
// and the chart's own promises: no service account token, secrets only as
// files, probes on /healthz and /readyz, a memory limit.
func checkPodSecurity(t *testing.T, pod podSpec) {
	t.Helper()
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Error("the pod mounts a service account token")
	}
	psc := pod.SecurityContext
	if psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser != 65532 {
		t.Errorf("pod runs as %d, runAsNonRoot %v; want 65532 and true", psc.RunAsUser, psc.RunAsNonRoot)
	}
	if psc.SeccompProfile.Type != "RuntimeDefault" {
		t.Errorf("pod seccomp %q; want RuntimeDefault", psc.SeccompProfile.Type)
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("want one container, got %d", len(pod.Containers))
	}
	c := pod.Containers[0]
	sc := c.SecurityContext
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Error("allowPrivilegeEscalation is not false")
	}
	if sc.Privileged {
		t.Error("privileged")
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Error("readOnlyRootFilesystem is not true")
	}
	if sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
		t.Error("container runAsNonRoot is not true")
	}
	if !slices.Equal(sc.Capabilities.Drop, []string{"ALL"}) || len(sc.Capabilities.Add) > 0 {
		t.Errorf("capabilities %+v; want ALL dropped, none added", sc.Capabilities)
	}
	if sc.SeccompProfile.Type != "RuntimeDefault" {
		t.Errorf("container seccomp %q; want RuntimeDefault", sc.SeccompProfile.Type)
	}
	if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" {
		t.Errorf("liveness probe %+v; want GET /healthz", c.LivenessProbe)
	}
	if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
		t.Errorf("readiness probe %+v; want GET /readyz", c.ReadinessProbe)
	}
	if c.Resources.Limits["memory"] == "" {
		t.Error("no memory limit")
	}
	if !slices.ContainsFunc(c.VolumeMounts, func(m volumeMount) bool { return m.MountPath == "/data" }) {
		t.Error("nothing is mounted at /data, the only writable path")
	}
	for _, e := range c.Env {
		if e.ValueFrom != nil {
			t.Errorf("%s comes from valueFrom; secrets are mounted as files", e.Name)
		}
		if secretName(e.Name) && !strings.HasSuffix(e.Name, "_FILE") {
			t.Errorf("%s holds a secret in the environment", e.Name)
		}
	}
}

// rulePorts lists the ports of a NetworkPolicy's rules, sorted.
func rulePorts(rules []policyRule) []string {
	var out []string
	for _, r := range rules {
		for _, p := range r.Ports {
			out = append(out, fmt.Sprint(p.Port))
		}
	}
	slices.Sort(out)
	return out
}
