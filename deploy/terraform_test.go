package deploy

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
)

const terraformDir = "ecs/terraform"

// tfModule is the Terraform module's blocks by "type.name", for resources
// and for data sources, as written (nothing is planned or evaluated).
type tfModule struct {
	resources map[string]*hclsyntax.Body
	data      map[string]*hclsyntax.Body
	locals    hclsyntax.Attributes
}

func loadTerraform(t *testing.T) tfModule {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(terraformDir, "*.tf"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no Terraform files in %s: %v", terraformDir, err)
	}
	m := tfModule{resources: map[string]*hclsyntax.Body{}, data: map[string]*hclsyntax.Body{}, locals: hclsyntax.Attributes{}}
	for _, path := range files {
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		f, diags := hclsyntax.ParseConfig(src, path, hcl.InitialPos)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		for _, b := range f.Body.(*hclsyntax.Body).Blocks {
			switch b.Type {
			case "resource":
				m.resources[b.Labels[0]+"."+b.Labels[1]] = b.Body
			case "data":
				m.data[b.Labels[0]+"."+b.Labels[1]] = b.Body
			case "locals":
				for k, v := range b.Body.Attributes {
					m.locals[k] = v
				}
			}
		}
	}
	return m
}

// resource returns the resource "type.name", failing the test without it.
func (m tfModule) resource(t *testing.T, key string) *hclsyntax.Body {
	t.Helper()
	b, ok := m.resources[key]
	if !ok {
		t.Fatalf("no %s", key)
	}
	return b
}

// ofType returns the resources of one type, by name.
func (m tfModule) ofType(typ string) map[string]*hclsyntax.Body {
	out := map[string]*hclsyntax.Body{}
	for k, b := range m.resources {
		if name, ok := strings.CutPrefix(k, typ+"."); ok {
			out[name] = b
		}
	}
	return out
}

// literal evaluates an attribute that must be a constant; the zero cty
// value means it is absent or refers to something.
func literal(b *hclsyntax.Body, name string) cty.Value {
	a, ok := b.Attributes[name]
	if !ok {
		return cty.NilVal
	}
	v, diags := a.Expr.Value(nil)
	if diags.HasErrors() {
		return cty.NilVal
	}
	return v
}

// refs returns what an attribute refers to, such as "var.vpc_id" or
// "aws_security_group.tasks.id".
func refs(b *hclsyntax.Body, name string) []string {
	a, ok := b.Attributes[name]
	if !ok {
		return nil
	}
	var out []string
	for _, tr := range a.Expr.Variables() {
		parts := []string{tr.RootName()}
		for _, step := range tr[1:] {
			if attr, ok := step.(hcl.TraverseAttr); ok {
				parts = append(parts, attr.Name)
			}
		}
		out = append(out, strings.Join(parts, "."))
	}
	return out
}

func isTrue(v cty.Value) bool  { return v.Type() == cty.Bool && v.True() }
func isFalse(v cty.Value) bool { return v.Type() == cty.Bool && v.False() }

// strings of a constant list, or nil.
func stringList(v cty.Value) []string {
	if v == cty.NilVal || !v.CanIterateElements() {
		return nil
	}
	var out []string
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		if e.Type() == cty.String {
			out = append(out, e.AsString())
		}
	}
	return out
}

func blocksOf(b *hclsyntax.Body, typ string) []*hclsyntax.Block {
	var out []*hclsyntax.Block
	for _, blk := range b.Blocks {
		if blk.Type == typ {
			out = append(out, blk)
		}
	}
	return out
}

// TestTerraformFormatted keeps the files as `terraform fmt` writes them,
// which hclwrite implements.
func TestTerraformFormatted(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(terraformDir, "*.tf"))
	for _, path := range files {
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := hclwrite.Format(src); string(got) != string(src) {
			t.Errorf("%s is not formatted as terraform fmt would", path)
		}
	}
}

func TestTerraformService(t *testing.T) {
	m := loadTerraform(t)
	svc := m.resource(t, "aws_ecs_service.seipbot")
	if v := literal(svc, "launch_type"); v == cty.NilVal || v.AsString() != "FARGATE" {
		t.Errorf("launch_type = %#v; want FARGATE", v)
	}
	if !isFalse(literal(svc, "enable_execute_command")) {
		t.Error("enable_execute_command must be false: a shell into the task bypasses the audit log")
	}
	nc := blocksOf(svc, "network_configuration")
	if len(nc) != 1 {
		t.Fatal("want one network_configuration")
	}
	if !isFalse(literal(nc[0].Body, "assign_public_ip")) {
		t.Error("tasks get a public IP; they belong in private subnets")
	}
	if got := refs(nc[0].Body, "subnets"); !slices.Equal(got, []string{"var.private_subnet_ids"}) {
		t.Errorf("subnets = %q; want var.private_subnet_ids", got)
	}
	if got := refs(nc[0].Body, "security_groups"); !slices.Equal(got, []string{"aws_security_group.tasks.id"}) {
		t.Errorf("security_groups = %q; want the tasks' group only", got)
	}
	if _, ok := m.resources["aws_ecs_cluster.seipbot"]; !ok {
		t.Error("no cluster")
	}
}

func TestTerraformSecurityGroups(t *testing.T) {
	m := loadTerraform(t)
	for name, sg := range m.ofType("aws_security_group") {
		if len(blocksOf(sg, "ingress"))+len(blocksOf(sg, "egress")) > 0 {
			t.Errorf("security group %s has inline rules; write each rule as its own resource", name)
		}
	}
	type rule struct{ group, port, source string }
	describe := func(b *hclsyntax.Body) rule {
		r := rule{group: strings.Join(refs(b, "security_group_id"), ",")}
		if p := literal(b, "from_port"); p != cty.NilVal {
			r.port = p.AsBigFloat().String()
		} else {
			r.port = strings.Join(refs(b, "from_port"), ",")
		}
		if to := literal(b, "to_port"); to != cty.NilVal && to.AsBigFloat().String() != r.port {
			r.port += "-" + to.AsBigFloat().String()
		}
		if s := refs(b, "referenced_security_group_id"); len(s) > 0 {
			r.source = strings.Join(s, ",")
		} else {
			r.source = "cidr " + strings.Join(refs(b, "cidr_ipv4"), ",")
		}
		if v := literal(b, "ip_protocol"); v == cty.NilVal || v.AsString() != "tcp" {
			t.Errorf("rule %+v: ip_protocol %#v; want tcp", r, v)
		}
		return r
	}
	var ingress, egress []rule
	for _, b := range m.ofType("aws_vpc_security_group_ingress_rule") {
		ingress = append(ingress, describe(b))
	}
	for _, b := range m.ofType("aws_vpc_security_group_egress_rule") {
		egress = append(egress, describe(b))
	}
	cmp := func(a, b rule) int { return strings.Compare(a.group+a.port+a.source, b.group+b.port+b.source) }
	slices.SortFunc(ingress, cmp)
	slices.SortFunc(egress, cmp)

	wantIngress := []rule{
		{"aws_security_group.redis.id", "6379", "aws_security_group.tasks.id"},
		{"aws_security_group.tasks.id", "var.webhook_port", "var.lb_security_group_id"},
	}
	// The HTTPS rule's CIDRs come from var.chat_egress_cidrs through
	// for_each, hence each.value.
	wantEgress := []rule{
		{"aws_security_group.tasks.id", "443", "cidr each.value"},
		{"aws_security_group.tasks.id", "6379", "aws_security_group.redis.id"},
	}
	if !slices.Equal(ingress, wantIngress) {
		t.Errorf("ingress rules:\n got %+v\nwant %+v", ingress, wantIngress)
	}
	if !slices.Equal(egress, wantEgress) {
		t.Errorf("egress rules:\n got %+v\nwant %+v", egress, wantEgress)
	}
}

func TestTerraformElastiCache(t *testing.T) {
	m := loadTerraform(t)
	rg := m.resource(t, "aws_elasticache_replication_group.redis")
	for _, a := range []string{"transit_encryption_enabled", "at_rest_encryption_enabled", "automatic_failover_enabled"} {
		if !isTrue(literal(rg, a)) {
			t.Errorf("%s is not true", a)
		}
	}
	if v := literal(rg, "transit_encryption_mode"); v == cty.NilVal || v.AsString() != "required" {
		t.Errorf("transit_encryption_mode = %#v; want required, so no client connects without TLS", v)
	}
	if got := refs(rg, "auth_token"); len(got) == 0 {
		t.Error("no AUTH token")
	}
	if got := refs(rg, "kms_key_id"); !slices.Equal(got, []string{"aws_kms_key.seipbot.arn"}) {
		t.Errorf("kms_key_id = %q; want the seipbot key", got)
	}
	if got := refs(rg, "security_group_ids"); !slices.Equal(got, []string{"aws_security_group.redis.id"}) {
		t.Errorf("security_group_ids = %q; want the redis group only", got)
	}
}

func TestTerraformKMSAndSecrets(t *testing.T) {
	m := loadTerraform(t)
	key := m.resource(t, "aws_kms_key.seipbot")
	if !isTrue(literal(key, "enable_key_rotation")) {
		t.Error("enable_key_rotation is not true")
	}
	for name, s := range m.ofType("aws_secretsmanager_secret") {
		if got := refs(s, "kms_key_id"); !slices.Equal(got, []string{"aws_kms_key.seipbot.arn"}) {
			t.Errorf("secret %s is not encrypted with the seipbot key", name)
		}
	}
	lg := m.resources["aws_cloudwatch_log_group.seipbot"]
	if lg == nil || len(refs(lg, "kms_key_id")) == 0 || literal(lg, "retention_in_days") == cty.NilVal && len(refs(lg, "retention_in_days")) == 0 {
		t.Error("the log group needs a KMS key and a retention")
	}
}

// TestTerraformIAM checks that no identity policy grants a wildcard action,
// that "*" resources are only for actions that have no resource, and that
// the task role can do nothing but use the key for the keyring.
func TestTerraformIAM(t *testing.T) {
	m := loadTerraform(t)
	resourceless := []string{"ecr:GetAuthorizationToken"}
	for name, doc := range m.data {
		if !strings.HasPrefix(name, "aws_iam_policy_document.") || name == "aws_iam_policy_document.kms" {
			// The key policy lets the account administer its own key,
			// which is how KMS key policies delegate to IAM.
			continue
		}
		for _, st := range blocksOf(doc, "statement") {
			actions := stringList(literal(st.Body, "actions"))
			if len(actions) == 0 {
				t.Errorf("%s: a statement's actions are not a constant list", name)
			}
			for _, a := range actions {
				if a == "*" || strings.HasSuffix(a, ":*") {
					t.Errorf("%s: wildcard action %q", name, a)
				}
			}
			if slices.Contains(stringList(literal(st.Body, "resources")), "*") {
				for _, a := range actions {
					if !slices.Contains(resourceless, a) {
						t.Errorf("%s: %s on every resource", name, a)
					}
				}
			}
		}
	}
	task := m.data["aws_iam_policy_document.task"]
	if task == nil {
		t.Fatal("no task role policy")
	}
	for _, st := range blocksOf(task, "statement") {
		for _, a := range stringList(literal(st.Body, "actions")) {
			if a != "kms:Decrypt" && a != "kms:GenerateDataKey" {
				t.Errorf("the task role may %s; it needs only the keyring's kms:Decrypt and kms:GenerateDataKey", a)
			}
		}
		if got := refs(st.Body, "resources"); !slices.Equal(got, []string{"aws_kms_key.seipbot.arn"}) {
			t.Errorf("the task role's statement covers %q; want the seipbot key only", got)
		}
		if len(blocksOf(st.Body, "condition")) == 0 {
			t.Error("the task role may use the key for anything; bind it to the keyring's encryption context")
		}
	}
	for _, role := range []string{"execution", "task"} {
		if refs(m.resources["aws_iam_role."+role], "assume_role_policy") == nil {
			t.Errorf("no %s role", role)
		}
	}
}

// TestTerraformTaskDefinition checks that Terraform registers
// taskdef-elasticache.json and fills every placeholder in it.
func TestTerraformTaskDefinition(t *testing.T) {
	m := loadTerraform(t)
	td, ok := m.locals["taskdef"]
	if !ok {
		t.Fatal("no local.taskdef")
	}
	var call *hclsyntax.FunctionCallExpr
	hclsyntax.VisitAll(td.Expr, func(n hclsyntax.Node) hcl.Diagnostics {
		if c, ok := n.(*hclsyntax.FunctionCallExpr); ok && c.Name == "templatefile" {
			call = c
		}
		return nil
	})
	if call == nil || len(call.Args) != 2 {
		t.Fatal("local.taskdef does not call templatefile(path, vars)")
	}
	src, err := os.ReadFile(filepath.Join(terraformDir, "ecs.tf"))
	if err != nil {
		t.Fatal(err)
	}
	if path := string(call.Args[0].Range().SliceBytes(src)); !strings.Contains(path, "/../taskdef-elasticache.json") {
		t.Errorf("templatefile reads %s; want ../taskdef-elasticache.json", path)
	}
	obj, ok := call.Args[1].(*hclsyntax.ObjectConsExpr)
	if !ok {
		t.Fatal("templatefile's variables are not an object")
	}
	var given []string
	for _, item := range obj.Items {
		given = append(given, hcl.ExprAsKeyword(item.KeyExpr))
	}
	json, err := os.ReadFile("ecs/taskdef-elasticache.json")
	if err != nil {
		t.Fatal(err)
	}
	var used []string
	for _, sub := range regexp.MustCompile(`\$\{(\w+)\}`).FindAllStringSubmatch(string(json), -1) {
		used = append(used, sub[1])
	}
	slices.Sort(given)
	slices.Sort(used)
	if used = slices.Compact(used); !slices.Equal(given, used) {
		t.Errorf("templatefile gives %q; the task definition uses %q", given, used)
	}
	if _, ok := m.resources["aws_ecs_task_definition.seipbot"]; !ok {
		t.Error("no aws_ecs_task_definition.seipbot")
	}
}
