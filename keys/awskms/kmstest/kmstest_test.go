package kmstest_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/seipbot/seipbot/keys/awskms"
	"github.com/seipbot/seipbot/keys/awskms/kmstest"
)

var encryptionContext = map[string]string{"purpose": "test"}

// sdkClient is the AWS SDK's KMS client for the fake, the reference for
// what KMS takes and answers.
func sdkClient(s *kmstest.Server) *kms.Client {
	return kms.New(kms.Options{
		Region:       "eu-central-1",
		BaseEndpoint: aws.String(s.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDSDK", "sdk-secret", "sdk-session"),
	})
}

// TestSDKAndClientAgree drives the fake with the SDK's client and with
// seipbot's: a data key either generates, the other decrypts, so both
// speak the fake's protocol; and the fake's errors reach the SDK as the
// error types KMS documents.
func TestSDKAndClientAgree(t *testing.T) {
	ctx := context.Background()
	fake := kmstest.New(t, "eu-central-1")
	sdk := sdkClient(fake)
	own := fake.Client()

	gen, err := sdk.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{
		KeyId: aws.String(kmstest.Alias), KeySpec: types.DataKeySpecAes256, EncryptionContext: encryptionContext,
	})
	if err != nil {
		t.Fatalf("SDK GenerateDataKey: %v", err)
	}
	if aws.ToString(gen.KeyId) != kmstest.KeyARN || len(gen.Plaintext) != 32 {
		t.Fatalf("SDK GenerateDataKey: key %q, %d-byte data key", aws.ToString(gen.KeyId), len(gen.Plaintext))
	}
	plain, err := own.Decrypt(ctx, kmstest.Alias, gen.CiphertextBlob, encryptionContext)
	if err != nil || !bytes.Equal(plain, gen.Plaintext) {
		t.Fatalf("Client.Decrypt of the SDK's data key: %v", err)
	}

	dk, err := own.GenerateDataKey(ctx, kmstest.KeyARN, encryptionContext)
	if err != nil {
		t.Fatalf("Client.GenerateDataKey: %v", err)
	}
	if dk.KeyID != kmstest.KeyARN || len(dk.Plaintext) != 32 {
		t.Fatalf("Client.GenerateDataKey: key %q, %d-byte data key", dk.KeyID, len(dk.Plaintext))
	}
	out, err := sdk.Decrypt(ctx, &kms.DecryptInput{
		KeyId: aws.String(kmstest.KeyARN), CiphertextBlob: dk.CiphertextBlob, EncryptionContext: encryptionContext,
	})
	if err != nil || !bytes.Equal(out.Plaintext, dk.Plaintext) {
		t.Fatalf("SDK Decrypt of the client's data key: %v", err)
	}

	// Another context does not decrypt, as with KMS.
	_, sdkErr := sdk.Decrypt(ctx, &kms.DecryptInput{
		KeyId: aws.String(kmstest.KeyARN), CiphertextBlob: dk.CiphertextBlob, EncryptionContext: map[string]string{"purpose": "other"},
	})
	var invalid *types.InvalidCiphertextException
	if !errors.As(sdkErr, &invalid) {
		t.Errorf("SDK Decrypt under another context: %v; want InvalidCiphertextException", sdkErr)
	}
	_, ownErr := own.Decrypt(ctx, kmstest.KeyARN, dk.CiphertextBlob, map[string]string{"purpose": "other"})
	var kerr *awskms.Error
	if !errors.As(ownErr, &kerr) || kerr.Type != "InvalidCiphertextException" || kerr.Status != 400 {
		t.Errorf("Client.Decrypt under another context: %v; want InvalidCiphertextException", ownErr)
	}

	_, sdkErr = sdk.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String("alias/none"), KeySpec: types.DataKeySpecAes256})
	var notFound *types.NotFoundException
	if !errors.As(sdkErr, &notFound) {
		t.Errorf("SDK GenerateDataKey with a missing key: %v; want NotFoundException", sdkErr)
	}
	_, ownErr = own.GenerateDataKey(ctx, "alias/none", nil)
	if !errors.As(ownErr, &kerr) || kerr.Type != "NotFoundException" {
		t.Errorf("Client.GenerateDataKey with a missing key: %v; want NotFoundException", ownErr)
	}

	if ids := fake.AccessKeyIDs(); len(ids) != 8 || ids[0] != "AKIDSDK" || ids[1] != "AKIDTEST" {
		t.Errorf("calls signed with %q", ids)
	}
}
