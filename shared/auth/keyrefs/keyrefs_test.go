package keyrefs

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/google/go-cmp/cmp"

	"github.com/rocker-app/corral/shared/auth"
	"github.com/rocker-app/corral/shared/awsjson"
	"github.com/rocker-app/corral/shared/awsjson/awsjsontest"
)

// fakeSSM is Parameter Store (a paid AWS API) on the JSON protocol: parameters by name; a missing one
// answers ParameterNotFound. awsjsontest checks the target and that requests are signed for "ssm".
type fakeSSM struct {
	*awsjsontest.Server
	params map[string]string
	mu     sync.Mutex
	calls  []getParameterInput
}

func newFakeSSM(t *testing.T, params map[string]string) *fakeSSM {
	f := &fakeSSM{params: params}
	f.Server = awsjsontest.NewServer(t, awsjson.SSM, map[string]awsjsontest.Operation{
		"GetParameter": func(raw json.RawMessage) (any, error) {
			var in getParameterInput
			if err := json.Unmarshal(raw, &in); err != nil {
				return nil, err
			}
			f.mu.Lock()
			f.calls = append(f.calls, in)
			f.mu.Unlock()
			v, ok := f.params[in.Name]
			if !ok {
				return nil, &awsjson.Error{Status: 400, Type: "ParameterNotFound"}
			}
			return map[string]any{"Parameter": map[string]string{"Name": in.Name, "Type": "SecureString", "Value": v}}, nil
		},
	})
	return f
}

// fakeSecrets is Secrets Manager (a paid AWS API) on the JSON protocol: secrets by id, as strings or as
// binaries. awsjsontest checks the target and that requests are signed for "secretsmanager".
type fakeSecrets struct {
	*awsjsontest.Server
	strings  map[string]string
	binaries map[string][]byte
	mu       sync.Mutex
	calls    []string
}

func newFakeSecrets(t *testing.T, strs map[string]string, bins map[string][]byte) *fakeSecrets {
	f := &fakeSecrets{strings: strs, binaries: bins}
	f.Server = awsjsontest.NewServer(t, awsjson.SecretsManager, map[string]awsjsontest.Operation{
		"GetSecretValue": func(raw json.RawMessage) (any, error) {
			var in struct{ SecretId string }
			if err := json.Unmarshal(raw, &in); err != nil {
				return nil, err
			}
			f.mu.Lock()
			f.calls = append(f.calls, in.SecretId)
			f.mu.Unlock()
			if s, ok := f.strings[in.SecretId]; ok {
				return map[string]string{"Name": in.SecretId, "SecretString": s}, nil
			}
			if b, ok := f.binaries[in.SecretId]; ok {
				return map[string]any{"Name": in.SecretId, "SecretBinary": b}, nil // []byte: base64, as AWS sends it
			}
			return nil, &awsjson.Error{Status: 400, Type: "ResourceNotFoundException", Message: "Secrets Manager can't find the specified secret."}
		},
	})
	return f
}

// route serves both fakes on one URL, sending each request to the fake whose X-Amz-Target prefix it has.
func route(t *testing.T, ssm, secrets *awsjsontest.Server) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.Header.Get("X-Amz-Target"), awsjson.SSM.TargetPrefix+".") {
			ssm.Config.Handler.ServeHTTP(w, r)
			return
		}
		secrets.Config.Handler.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
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
		wantType      string // the store's error type, for a store's error
		wantSSM       []string
		wantSecretIDs []string
	}{
		{name: "PEM text needs no store", value: string(text)},
		{name: "SSM parameter, decrypted", value: "ssm:/corral/prod/jwt-signing-keys", ssm: true, wantSSM: []string{"/corral/prod/jwt-signing-keys"}},
		{name: "SSM parameter ARN", value: " ssm:arn:aws:ssm:eu-north-1:123456789012:parameter/corral/prod/jwt-signing-keys ", ssm: true,
			wantSSM: []string{"arn:aws:ssm:eu-north-1:123456789012:parameter/corral/prod/jwt-signing-keys"}},
		{name: "Secrets Manager string", value: "secretsmanager:corral/prod/jwt-signing-keys", secrets: true, wantSecretIDs: []string{"corral/prod/jwt-signing-keys"}},
		{name: "Secrets Manager binary", value: "secretsmanager:corral/prod/binary", secrets: true, wantSecretIDs: []string{"corral/prod/binary"}},
		{name: "missing SSM parameter", value: "ssm:/corral/prod/missing", ssm: true, wantErr: "/corral/prod/missing", wantType: "ParameterNotFound", wantSSM: []string{"/corral/prod/missing"}},
		{name: "empty SSM parameter", value: "ssm:/corral/prod/empty", ssm: true, wantErr: "empty", wantSSM: []string{"/corral/prod/empty"}},
		{name: "SSM parameter that is not a key", value: "ssm:/corral/prod/junk", ssm: true, wantErr: "no PRIVATE KEY", wantSSM: []string{"/corral/prod/junk"}},
		{name: "missing secret", value: "secretsmanager:nope", secrets: true, wantErr: `"nope"`, wantType: "ResourceNotFoundException", wantSecretIDs: []string{"nope"}},
		{name: "SSM reference without a client", value: "ssm:/corral/prod/jwt-signing-keys", secrets: true, wantErr: "no SSM client"},
		{name: "Secrets Manager reference without a client", value: "secretsmanager:x", ssm: true, wantErr: "no Secrets Manager client"},
		{name: "reference without a name", value: "ssm:", ssm: true, wantErr: "no parameter name"},
		{name: "empty", value: "  ", wantErr: "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fs := newFakeSSM(t, map[string]string{
				"/corral/prod/jwt-signing-keys":                                              string(text),
				"arn:aws:ssm:eu-north-1:123456789012:parameter/corral/prod/jwt-signing-keys": string(text),
				"/corral/prod/empty":                                                         "",
				"/corral/prod/junk":                                                          "not a key",
			})
			fsm := newFakeSecrets(t, map[string]string{"corral/prod/jwt-signing-keys": string(text)},
				map[string][]byte{"corral/prod/binary": text})
			// Loader's clients, sent to the fakes by target; each fake checks the signing name.
			cfg := awsjsontest.Config()
			cfg.BaseEndpoint = aws.String(route(t, fs.Server, fsm.Server))
			all := newSources(cfg)
			var src Sources
			if tt.ssm {
				src.SSM = all.SSM
			}
			if tt.secrets {
				src.SecretsManager = all.SecretsManager
			}
			ring, err := LoadKeyRing(context.Background(), tt.value, "", src)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("LoadKeyRing = %v; want an error containing %q", err, tt.wantErr)
				}
				if got := awsjson.ErrorType(err); got != tt.wantType {
					t.Errorf("LoadKeyRing error type %q, want %q", got, tt.wantType)
				}
			} else if err != nil {
				t.Errorf("LoadKeyRing: %v", err)
			} else if ring.ActiveKID() != "prod-1" {
				t.Errorf("ActiveKID = %q; want prod-1", ring.ActiveKID())
			}
			var names []string
			fs.mu.Lock()
			defer fs.mu.Unlock()
			fsm.mu.Lock()
			defer fsm.mu.Unlock()
			for _, c := range fs.calls {
				names = append(names, c.Name)
				if !c.WithDecryption {
					t.Errorf("GetParameter(%s) without WithDecryption", c.Name)
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
