package keyrefs

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/google/go-cmp/cmp"

	"github.com/rocker-app/corral/shared/auth"
)

// fakeSSM is Parameter Store (a paid AWS API): parameters by name; a missing one answers err.
type fakeSSM struct {
	params map[string]string
	calls  []ssm.GetParameterInput
}

var _ ParameterGetter = (*fakeSSM)(nil)

func (f *fakeSSM) GetParameter(_ context.Context, in *ssm.GetParameterInput, _ ...func(*ssm.Options)) (*ssm.GetParameterOutput, error) {
	f.calls = append(f.calls, *in)
	v, ok := f.params[aws.ToString(in.Name)]
	if !ok {
		return nil, errors.New("ParameterNotFound")
	}
	return &ssm.GetParameterOutput{Parameter: &ssmtypes.Parameter{Name: in.Name, Value: aws.String(v)}}, nil
}

// fakeSecrets is Secrets Manager (a paid AWS API): secrets by id, as strings or as binaries.
type fakeSecrets struct {
	strings  map[string]string
	binaries map[string][]byte
	calls    []string
}

var _ SecretGetter = (*fakeSecrets)(nil)

func (f *fakeSecrets) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	id := aws.ToString(in.SecretId)
	f.calls = append(f.calls, id)
	if s, ok := f.strings[id]; ok {
		return &secretsmanager.GetSecretValueOutput{SecretString: aws.String(s)}, nil
	}
	if b, ok := f.binaries[id]; ok {
		return &secretsmanager.GetSecretValueOutput{SecretBinary: b}, nil
	}
	return nil, errors.New("ResourceNotFoundException")
}

func TestLoadKeyRing(t *testing.T) {
	t.Parallel()
	k, err := auth.GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	text, err := auth.MarshalKeyRingPEM(auth.SigningKey{KID: "prod-1", Key: k})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name          string
		value         string
		ssm           bool // give the SSM fake
		secrets       bool // give the Secrets Manager fake
		wantErr       string
		wantSSM       []string
		wantSecretIDs []string
	}{
		{name: "PEM text needs no store", value: string(text)},
		{name: "SSM parameter, decrypted", value: "ssm:/corral/prod/jwt-signing-keys", ssm: true, wantSSM: []string{"/corral/prod/jwt-signing-keys"}},
		{name: "SSM parameter ARN", value: " ssm:arn:aws:ssm:eu-north-1:123456789012:parameter/corral/prod/jwt-signing-keys ", ssm: true,
			wantSSM: []string{"arn:aws:ssm:eu-north-1:123456789012:parameter/corral/prod/jwt-signing-keys"}},
		{name: "Secrets Manager string", value: "secretsmanager:corral/prod/jwt-signing-keys", secrets: true, wantSecretIDs: []string{"corral/prod/jwt-signing-keys"}},
		{name: "Secrets Manager binary", value: "secretsmanager:corral/prod/binary", secrets: true, wantSecretIDs: []string{"corral/prod/binary"}},
		{name: "missing SSM parameter", value: "ssm:/corral/prod/missing", ssm: true, wantErr: "/corral/prod/missing", wantSSM: []string{"/corral/prod/missing"}},
		{name: "empty SSM parameter", value: "ssm:/corral/prod/empty", ssm: true, wantErr: "empty", wantSSM: []string{"/corral/prod/empty"}},
		{name: "SSM parameter that is not a key", value: "ssm:/corral/prod/junk", ssm: true, wantErr: "no PRIVATE KEY", wantSSM: []string{"/corral/prod/junk"}},
		{name: "missing secret", value: "secretsmanager:nope", secrets: true, wantErr: `"nope"`, wantSecretIDs: []string{"nope"}},
		{name: "SSM reference without a client", value: "ssm:/corral/prod/jwt-signing-keys", secrets: true, wantErr: "no SSM client"},
		{name: "Secrets Manager reference without a client", value: "secretsmanager:x", ssm: true, wantErr: "no Secrets Manager client"},
		{name: "reference without a name", value: "ssm:", ssm: true, wantErr: "no parameter name"},
		{name: "empty", value: "  ", wantErr: "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fs := &fakeSSM{params: map[string]string{
				"/corral/prod/jwt-signing-keys":                                              string(text),
				"arn:aws:ssm:eu-north-1:123456789012:parameter/corral/prod/jwt-signing-keys": string(text),
				"/corral/prod/empty":                                                         "",
				"/corral/prod/junk":                                                          "not a key",
			}}
			fsm := &fakeSecrets{strings: map[string]string{"corral/prod/jwt-signing-keys": string(text)},
				binaries: map[string][]byte{"corral/prod/binary": text}}
			var src Sources
			if tt.ssm {
				src.SSM = fs
			}
			if tt.secrets {
				src.SecretsManager = fsm
			}
			ring, err := LoadKeyRing(context.Background(), tt.value, "", src)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("LoadKeyRing = %v; want an error containing %q", err, tt.wantErr)
				}
			} else if err != nil {
				t.Errorf("LoadKeyRing: %v", err)
			} else if ring.ActiveKID() != "prod-1" {
				t.Errorf("ActiveKID = %q; want prod-1", ring.ActiveKID())
			}
			var names []string
			for _, c := range fs.calls {
				names = append(names, aws.ToString(c.Name))
				if !aws.ToBool(c.WithDecryption) {
					t.Errorf("GetParameter(%s) without WithDecryption", aws.ToString(c.Name))
				}
			}
			if diff := cmp.Diff(tt.wantSSM, names); diff != "" {
				t.Errorf("SSM calls (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantSecretIDs, fsm.calls); diff != "" {
				t.Errorf("Secrets Manager calls (-want +got):\n%s", diff)
			}
		})
	}
}
