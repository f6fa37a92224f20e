package awskms

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/ec2rolecreds"
	"github.com/aws/aws-sdk-go-v2/credentials/endpointcreds"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
)

// errNoCredentials names every way of giving the bot credentials.
var errNoCredentials = errors.New("awskms: no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, " +
	"or AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN, or AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or " +
	"AWS_CONTAINER_CREDENTIALS_FULL_URI, or run on EC2 with an instance profile and AWS_EC2_METADATA_DISABLED unset")

// The link-local address at which ECS serves a task role's credentials,
// and the ones EKS Pod Identity uses.
var containerHosts = []net.IP{
	net.ParseIP("169.254.170.2"),
	net.ParseIP("169.254.170.23"),
	net.ParseIP("fd00:ec2::23"),
}

// credentialsFromEnv picks the one source of credentials the environment
// names, in the order of the SDK's default chain for the places the bot
// runs: keys in the environment, a web identity token (IRSA on EKS), the
// container endpoint (ECS task role, EKS Pod Identity), then the EC2
// instance profile. The SDK's providers fetch the credentials, but for a
// web identity, which is one unsigned call to STS (webidentity.go); the
// cache shares them between calls and renews them before they expire.
// region is the region of the STS calls for a web identity.
func credentialsFromEnv(region string) (aws.CredentialsProvider, error) {
	env := os.Getenv
	var p aws.CredentialsProvider
	// window renews the container endpoint's credentials five minutes
	// before they expire, as the SDK's default chain does, so that a KMS
	// call never carries credentials that lapse on the way.
	var window time.Duration
	switch {
	case env("AWS_ACCESS_KEY_ID") != "" && env("AWS_SECRET_ACCESS_KEY") != "":
		p = credentials.NewStaticCredentialsProvider(env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY"), env("AWS_SESSION_TOKEN"))
	case env("AWS_WEB_IDENTITY_TOKEN_FILE") != "" && env("AWS_ROLE_ARN") != "":
		p = newWebIdentity(region, env("AWS_ENDPOINT_URL_STS"), env("AWS_ROLE_ARN"), env("AWS_ROLE_SESSION_NAME"), env("AWS_WEB_IDENTITY_TOKEN_FILE"))
	case env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") != "":
		p = containerProvider("http://169.254.170.2" + env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"))
		window = 5 * time.Minute
	case env("AWS_CONTAINER_CREDENTIALS_FULL_URI") != "":
		endpoint := env("AWS_CONTAINER_CREDENTIALS_FULL_URI")
		if err := checkContainerEndpoint(endpoint); err != nil {
			return nil, err
		}
		p = containerProvider(endpoint)
		window = 5 * time.Minute
	case !strings.EqualFold(env("AWS_EC2_METADATA_DISABLED"), "true"):
		// imds.New reads AWS_EC2_METADATA_SERVICE_ENDPOINT itself.
		p = ec2rolecreds.New(func(o *ec2rolecreds.Options) { o.Client = imds.New(imds.Options{}) })
	default:
		return nil, errNoCredentials
	}
	return aws.NewCredentialsCache(p, func(o *aws.CredentialsCacheOptions) { o.ExpiryWindow = window }), nil
}

// containerProvider asks the container credentials endpoint, sending the
// authorization token EKS Pod Identity (a file, read at each request since
// the agent rotates it) or ECS gives.
func containerProvider(endpoint string) aws.CredentialsProvider {
	return endpointcreds.New(endpoint, func(o *endpointcreds.Options) {
		o.AuthorizationToken = os.Getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN")
		if file := os.Getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"); file != "" {
			o.AuthorizationTokenProvider = endpointcreds.TokenProviderFunc(func() (string, error) {
				b, err := os.ReadFile(file)
				return string(b), err
			})
		}
	})
}

// checkContainerEndpoint refuses a plain-HTTP endpoint anywhere but the
// container hosts or loopback, as the SDK does, so that the authorization
// token and the credentials never cross a network in the clear. Host names
// other than localhost are not resolved: the endpoint is given as an IP.
func checkContainerEndpoint(endpoint string) error {
	u, err := url.Parse(endpoint)
	if err != nil {
		return fmt.Errorf("awskms: AWS_CONTAINER_CREDENTIALS_FULL_URI: %w", err)
	}
	if u.Scheme == "https" {
		return nil
	}
	if u.Scheme == "http" {
		if u.Hostname() == "localhost" {
			return nil
		}
		if ip := net.ParseIP(u.Hostname()); ip != nil && (ip.IsLoopback() || slices.ContainsFunc(containerHosts, ip.Equal)) {
			return nil
		}
	}
	return fmt.Errorf("awskms: AWS_CONTAINER_CREDENTIALS_FULL_URI %q: want https, or http to a loopback or container credentials address", endpoint)
}
