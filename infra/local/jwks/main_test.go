package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rocker-app/corral/shared/auth"
	"github.com/rocker-app/corral/shared/config"
)

// The printed document, given to a verifier as JWT_PUBLIC_KEY (and nothing else), verifies the ring's
// tokens, signed with any of its keys, and no other key's.
func TestPrintedJWKSVerifiesTheRingsTokens(t *testing.T) {
	t.Parallel()
	active, second, stranger := newKey(t, "k2"), newKey(t, "k1"), newKey(t, "k1") // the stranger reuses a kid
	ring, err := auth.MarshalKeyRingPEM(active, second)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "keys.pem")
	if err := os.WriteFile(path, ring, 0o600); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := run(context.Background(), []string{"-keys", path}, &out); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), `"d"`) {
		t.Fatalf("the document holds a private member: %s", out.String())
	}

	cfg := config.JWT{Issuer: "https://corral.test", Audience: "corral", TenantClaim: "tenant_id", PublicKey: out.String()}
	v, err := auth.NewVerifier(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	claims := auth.Claims{Issuer: cfg.Issuer, Audience: cfg.Audience, Subject: "0b8f7f5e-3c51-4a63-9a55-0f0c53d7f001",
		TenantID: "0b8f7f5e-3c51-4a63-9a55-0f0c53d7f002", Role: "member"}
	for _, tc := range []struct {
		key  auth.SigningKey
		want bool
	}{{active, true}, {second, true}, {stranger, false}} {
		signer, err := auth.NewSigner(tc.key)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := signer.Sign(claims, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		p, err := v.Verify(context.Background(), tok)
		switch {
		case tc.want && (err != nil || p.UserID != claims.Subject):
			t.Errorf("token of %s: %+v, %v; want it verified", tc.key.KID, p, err)
		case !tc.want && !errors.Is(err, auth.ErrInvalidToken):
			t.Errorf("token of another key under kid %s: %v; want ErrInvalidToken", tc.key.KID, err)
		}
	}
}

func TestRunRefusesBadInput(t *testing.T) {
	t.Parallel()
	notPEM := filepath.Join(t.TempDir(), "keys.pem")
	if err := os.WriteFile(notPEM, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, args := range map[string][]string{
		"missing file": {"-keys", filepath.Join(t.TempDir(), "none.pem")},
		"not PEM":      {"-keys", notPEM},
		"stray args":   {"extra"},
	} {
		var out strings.Builder
		if err := run(context.Background(), args, &out); err == nil || out.Len() > 0 {
			t.Errorf("%s: printed %q, error %v; want an error and nothing printed", name, out.String(), err)
		}
	}
}

func newKey(t *testing.T, kid string) auth.SigningKey {
	t.Helper()
	k, err := auth.GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	return auth.SigningKey{KID: kid, Key: k}
}
