package secrets

import (
	"strings"
	"testing"
	"testing/fstest"
)

// Fake credentials are built from pieces so that this file itself does not
// look like it holds any.
var (
	fakeAWSID     = "AKIA" + "QX7TR2MZ" + "9VBN4KLP"
	fakeAWSSecret = "wJalrXUtnFEMI/K7MDENG" + "/bPxRfiCYzq8Nm2Lp4W"
	fakeGitHub    = "ghp" + "_" + "R8vQ2mX7kL4pN9sT1wY6" + "zB3cD5fG0hJ2aE4u"
	fakeGitLab    = "glpat" + "-" + "Zk4Pq9Wm2Rt7Yx3Nb6Vc"
	fakeSlack     = "xoxb" + "-" + "123456789012-" + "Tk8Qz3Wm5Rp1Ys7Nv4Lb"
	fakeHook      = "https://hooks.slack.com/services/" + "T0123ABCD/B0456EFGH/" + "q8Zr2Wm5Tp1Ys7Nv4LbXk3"
	fakeKeyBody   = "MIIEowIBAAKCAQEA7" + "x9Kq2Lm4Np6Rs8Tu0Vw2Yz4Ab6Cd8Ef0Gh2Ij4Kl6"
	fakeGeneric   = "Qm9" + "vZ3Rr8Lp2Zx7Wq4Nc1Vb6"
)

func tree() fstest.MapFS {
	key := "-----BEGIN RSA " + "PRIVATE KEY-----\n" + fakeKeyBody + "\n-----END RSA PRIVATE KEY-----\n"
	return fstest.MapFS{
		"config/aws.env":      {Data: []byte("AWS_ACCESS_KEY_ID=" + fakeAWSID + "\naws_secret_access_key = " + fakeAWSSecret + "\n")},
		"ci/deploy.sh":        {Data: []byte("#!/bin/sh\nexport GH=" + fakeGitHub + "\ncurl " + fakeHook + "\n")},
		"app/settings.py":     {Data: []byte("GITLAB = '" + fakeGitLab + "'\nSLACK = \"" + fakeSlack + "\"\napi_key = \"" + fakeGeneric + "\"\npassword = \"changeme-changeme-1\"\ntoken = \"aaaaaaaaaaaaaaaaaaaa\"\n")},
		"keys/id_rsa":         {Data: []byte(key)},
		"docs/howto.md":       {Data: []byte("A key starts with -----BEGIN RSA " + "PRIVATE KEY-----.\n")},
		"vendor/lib/creds.go": {Data: []byte("const t = \"" + fakeGitHub + "\"\n")},
		"test/fixture.env":    {Data: []byte("api_key=" + fakeGeneric + "\n")},
		"blob.bin":            {Data: append([]byte{0, 1, 2}, fakeGitHub...)},
		".seipbotignore":      {Data: []byte("# third-party code\nvendor/\ngeneric-secret:test/*\n")},
	}
}

func TestScan(t *testing.T) {
	r, err := Scan(tree(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range r.Findings {
		got = append(got, f.File+":"+string(rune('0'+f.Line))+" "+f.Rule)
	}
	want := []string{
		"app/settings.py:1 gitlab-token", "app/settings.py:2 slack-token", "app/settings.py:3 generic-secret",
		"ci/deploy.sh:2 github-token", "ci/deploy.sh:3 slack-webhook",
		"config/aws.env:1 aws-access-key-id", "config/aws.env:2 aws-secret-access-key",
		"keys/id_rsa:2 private-key",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if r.Skipped != 1 || r.Ignored != 1 {
		t.Errorf("skipped %d (want the binary; vendor/ is not walked), ignored %d (want 1)", r.Skipped, r.Ignored)
	}
	// The same secret has the same fingerprint wherever it is.
	again := ScanText("elsewhere.txt", []byte("x "+fakeGitHub))
	if len(again) != 1 || again[0].Fingerprint != r.Findings[3].Fingerprint {
		t.Errorf("fingerprints differ: %+v vs %+v", again, r.Findings[3])
	}
}

func TestLimits(t *testing.T) {
	fsys := fstest.MapFS{"big.txt": {Data: []byte(strings.Repeat("x", 100) + fakeGitHub)}, "small.txt": {Data: []byte(fakeGitHub)}}
	r, _ := Scan(fsys, Options{MaxFileBytes: 80})
	if r.Skipped != 1 || len(r.Findings) != 1 || r.Findings[0].File != "small.txt" {
		t.Errorf("MaxFileBytes: %+v", r)
	}
	r, _ = Scan(fsys, Options{MaxBytes: 50})
	if !r.Truncated || r.Files != 1 {
		t.Errorf("MaxBytes: %+v", r)
	}
}

func TestFineGrainedToken(t *testing.T) {
	tok := "github_pat_" + strings.Repeat("A1b2", 5) + "Cd_" + strings.Repeat("Zy9x8", 11) + "Wv7u"
	if got := ScanText("f", []byte(tok)); len(got) != 1 || got[0].Rule != "github-fine-grained-token" {
		t.Errorf("%+v", got)
	}
}

func TestMatchAny(t *testing.T) {
	for _, tt := range []struct {
		glob, path string
		want       bool
	}{
		{"*.pem", "a/b/key.pem", true},
		{"docs/", "docs/x/y.md", true},
		{"docs/*", "docs/y.md", true},
		{"docs/*", "src/docs.md", false},
		{"/testdata", "pkg/testdata/x", true},
		{"src/*.go", "src/a/b.go", false},
	} {
		if got := matchAny([]string{tt.glob}, tt.path); got != tt.want {
			t.Errorf("%q on %q: %v", tt.glob, tt.path, got)
		}
	}
}
