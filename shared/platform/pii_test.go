package platform_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/rocker-app/corral/shared/config"
	"github.com/rocker-app/corral/shared/platform"
	"github.com/rocker-app/corral/shared/platform/platformtest"
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
		wantErr string // "" for success
	}{
		// KMS is only configured at cold start: no call is made, so no credentials are needed here.
		{"kms", config.PII{KeyProvider: "kms", KMSKeyID: "alias/corral-pii", BlindIndexKeys: d.Config.PII.BlindIndexKeys}, ""},
		{"short local key", config.PII{KeyProvider: "local", LocalKeys: badKey, BlindIndexKeys: d.Config.PII.BlindIndexKeys}, "PII_LOCAL_KEYS"},
		{"no blind index key", config.PII{KeyProvider: "local", LocalKeys: d.Config.PII.LocalKeys}, "BLIND_INDEX_KEYS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := d.Config
			cfg.PII = tt.pii
			got, err := platform.NewDeps(ctx, cfg, log)
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
