package awskms

import (
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// webIdentity assumes a role with a web identity token, as IRSA on EKS
// gives one: it sends the token file's content to STS's
// AssumeRoleWithWebIdentity, a form POST of the query protocol that needs
// no signature, and takes the role's temporary credentials from the XML
// answer. The token file is read at every call, since the platform
// rotates it.
type webIdentity struct {
	endpoint  string
	roleARN   string
	session   string
	tokenFile string
	http      *http.Client
}

// newWebIdentity returns the provider for roleARN. endpoint replaces STS's
// regional endpoint (a VPC endpoint, or a test server); an empty session
// name becomes one made of the time, as the SDK makes it.
func newWebIdentity(region, endpoint, roleARN, session, tokenFile string) *webIdentity {
	if endpoint == "" {
		endpoint = "https://" + serviceHost("sts", region)
	}
	if session == "" {
		session = "seipbot-" + strconv.FormatInt(time.Now().UnixNano(), 10)
	}
	return &webIdentity{
		endpoint:  strings.TrimSuffix(endpoint, "/") + "/",
		roleARN:   roleARN,
		session:   session,
		tokenFile: tokenFile,
		http:      &http.Client{Timeout: 30 * time.Second},
	}
}

// stsAnswer holds both what AssumeRoleWithWebIdentity answers and the
// error STS may answer instead.
type stsAnswer struct {
	Credentials struct {
		AccessKeyID     string `xml:"AccessKeyId"`
		SecretAccessKey string `xml:"SecretAccessKey"`
		SessionToken    string `xml:"SessionToken"`
		Expiration      string `xml:"Expiration"`
	} `xml:"AssumeRoleWithWebIdentityResult>Credentials"`
	Error struct {
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	} `xml:"Error"`
}

// Retrieve implements aws.CredentialsProvider.
func (w *webIdentity) Retrieve(ctx context.Context) (aws.Credentials, error) {
	token, err := os.ReadFile(w.tokenFile)
	if err != nil {
		return aws.Credentials{}, fmt.Errorf("web identity token: %w", err)
	}
	form := url.Values{
		"Action":           {"AssumeRoleWithWebIdentity"},
		"Version":          {"2011-06-15"},
		"RoleArn":          {w.roleARN},
		"RoleSessionName":  {w.session},
		"WebIdentityToken": {strings.TrimSpace(string(token))},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return aws.Credentials{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := w.http.Do(req)
	if err != nil {
		return aws.Credentials{}, fmt.Errorf("STS AssumeRoleWithWebIdentity: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return aws.Credentials{}, fmt.Errorf("STS AssumeRoleWithWebIdentity: %w", err)
	}
	var ans stsAnswer
	xmlErr := xml.Unmarshal(data, &ans)
	if resp.StatusCode != http.StatusOK {
		if ans.Error.Code == "" {
			ans.Error.Code = http.StatusText(resp.StatusCode)
		}
		return aws.Credentials{}, fmt.Errorf("STS AssumeRoleWithWebIdentity for %s: %s: %s (HTTP %d)", w.roleARN, ans.Error.Code, ans.Error.Message, resp.StatusCode)
	}
	c := ans.Credentials
	if xmlErr != nil || c.AccessKeyID == "" || c.SecretAccessKey == "" {
		return aws.Credentials{}, fmt.Errorf("STS AssumeRoleWithWebIdentity for %s answered without credentials", w.roleARN)
	}
	expires, err := time.Parse(time.RFC3339, c.Expiration)
	if err != nil {
		return aws.Credentials{}, fmt.Errorf("STS AssumeRoleWithWebIdentity: expiration %q: %w", c.Expiration, err)
	}
	return aws.Credentials{
		AccessKeyID:     c.AccessKeyID,
		SecretAccessKey: c.SecretAccessKey,
		SessionToken:    c.SessionToken,
		Source:          "WebIdentity",
		CanExpire:       true,
		Expires:         expires,
	}, nil
}
