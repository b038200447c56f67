package platform_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rocker-app/corral/shared/config"
	"github.com/rocker-app/corral/shared/platform"
	"github.com/rocker-app/corral/shared/platform/awsparts"
	"github.com/rocker-app/corral/shared/platform/platformtest"
	"github.com/rocker-app/corral/shared/ratelimit"
	"github.com/rocker-app/corral/shared/seal"
)

func TestDepsSealPersonalData(t *testing.T) {
	t.Parallel()
	env := platformtest.New(t)
	ctx := context.Background()
	d := env.Deps
	aad := seal.AAD("profiles.phone", "tenant", "user")
	c, err := d.Sealer.Seal(ctx, []byte("+46700000000"), aad)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := d.Sealer.Open(ctx, c, aad); err != nil || string(got) != "+46700000000" {
		t.Errorf("Open = %q, %v", got, err)
	}
	if len(d.BlindIndex.Index("ann@example.com")) == 0 {
		t.Error("no blind index")
	}

	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	const badKey = "k1:c2hvcnQta2V5LW9mLTE2Yg=="
	tests := []struct {
		name    string
		pii     config.PII
		opts    []platform.Option
		wantErr string // "" for success
	}{
		// KMS is only configured at cold start: no call is made, so no credentials are needed here.
		{"kms", config.PII{KeyProvider: "kms", KMSKeyID: "alias/corral-pii", BlindIndexKeys: d.Config.PII.BlindIndexKeys}, awsparts.All(), ""},
		{"short local key", config.PII{KeyProvider: "local", LocalKeys: badKey, BlindIndexKeys: d.Config.PII.BlindIndexKeys}, nil, "PII_LOCAL_KEYS"},
		{"no blind index key", config.PII{KeyProvider: "local", LocalKeys: d.Config.PII.LocalKeys}, nil, "BLIND_INDEX_KEYS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := d.Config
			cfg.PII = tt.pii
			got, err := platform.NewDeps(ctx, cfg, log, tt.opts...)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				defer got.Close()
				if got.Sealer == nil || got.BlindIndex == nil {
					t.Error("NewDeps left Sealer or BlindIndex nil")
				}
				return
			}
			if err == nil {
				got.Close()
				t.Fatal("NewDeps succeeded")
			}
			if !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "c2hvcnQta2V5") {
				t.Errorf("err = %v, want one naming %s without the key", err, tt.wantErr)
			}
		})
	}
}

// A function built without an optional AWS part starts as long as it does not use it, and one that does
// use it fails its cold start with a message naming the option its main.go lacks.
func TestDepsWithoutOptionalParts(t *testing.T) {
	t.Parallel()
	env := platformtest.New(t)
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	cfg := env.Deps.Config
	cfg.Function = "profiles"
	cfg.PII = config.PII{KeyProvider: "kms", KMSKeyID: "alias/corral-pii", BlindIndexKeys: env.Deps.Config.PII.BlindIndexKeys}
	cfg.IdempotencyStore, cfg.IdempotencyTable = "dynamodb", "corral-idempotency"
	d, err := platform.NewDeps(ctx, cfg, log)
	if err != nil {
		t.Fatalf("NewDeps without parts: %v", err)
	}
	defer d.Close()
	if d.Sealer != nil || d.BlindIndex == nil || d.Idempotency != nil {
		t.Errorf("Sealer = %v, BlindIndex = %v, Idempotency = %v; want no sealer and no store, a blind index", d.Sealer, d.BlindIndex, d.Idempotency)
	}
	wantPanic(t, "platform.WithKMS", func() { d.RequireSealer() })
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {})
	policy := ratelimit.Policy{Name: "t.read", Rate: 10, Period: time.Minute, Burst: 1, Scope: ratelimit.ScopeUser}
	_ = platform.Handler(d, []platform.Route{{Pattern: "GET /things", Handler: ok, Policy: policy}})
	wantPanic(t, "platform.WithDynamoDB", func() {
		platform.Handler(d, []platform.Route{{Pattern: "POST /things", Handler: ok, Policy: policy, Idempotency: platform.IdempotencyOptional}})
	})

	cfg = env.Deps.Config
	cfg.JWT.SigningKeys = "ssm:/corral/prod/jwt-signing-keys"
	if d, err := platform.NewDeps(ctx, cfg, log); err == nil {
		d.Close()
		t.Error("NewDeps with a key reference and no WithKeyReferences succeeded")
	} else if !strings.Contains(err.Error(), "platform.WithKeyReferences") {
		t.Errorf("err = %v, want one naming platform.WithKeyReferences", err)
	}
}

func wantPanic(t *testing.T, want string, f func()) {
	t.Helper()
	defer func() {
		t.Helper()
		r := recover()
		if msg, _ := r.(string); !strings.Contains(msg, want) {
			t.Errorf("panic = %v, want one naming %s", r, want)
		}
	}()
	f()
}
