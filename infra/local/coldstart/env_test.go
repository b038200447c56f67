package main

import (
	"slices"
	"testing"

	"github.com/rocker-app/corral/shared/auth"
	"github.com/rocker-app/corral/shared/samtemplate"
)

// A function gets DATABASE_MAINTENANCE_URL only when the template gives it one.
func TestEnvForGivesOwnVariablesToTheirFunctions(t *testing.T) {
	t.Parallel()
	tpl, _, err := samtemplate.FindAndLoad(".")
	if err != nil {
		t.Fatal(err)
	}
	base := []string{"DATABASE_URL=postgres://app", "DATABASE_MAINTENANCE_URL=postgres://maint", "REDIS_URL=redis://r"}
	tests := []struct {
		name      string
		wantMaint bool
	}{
		{"cleanup", true},
		{"partition-maintenance", true},
		{"horses", false},
		{"businesses", false},
		{"hello", true}, // not in the template: left as it is
	}
	for _, tt := range tests {
		got := envFor(tpl, tt.name, base)
		if has := slices.Contains(got, "DATABASE_MAINTENANCE_URL=postgres://maint"); has != tt.wantMaint {
			t.Errorf("%s: has DATABASE_MAINTENANCE_URL = %v, want %v (env %q)", tt.name, has, tt.wantMaint, got)
		}
		if !slices.Contains(got, "DATABASE_URL=postgres://app") || !slices.Contains(got, "REDIS_URL=redis://r") {
			t.Errorf("%s: lost a shared variable: %q", tt.name, got)
		}
	}
}

// The signing keys reach only the functions that issue tokens; every function gets the public key.
func TestEnvForGivesSigningKeysToIssuersOnly(t *testing.T) {
	t.Parallel()
	tpl, _, err := samtemplate.FindAndLoad(".")
	if err != nil {
		t.Fatal(err)
	}
	base := []string{"JWT_SIGNING_KEYS=pem", "JWT_PUBLIC_KEY=jwks", "JWT_ISSUER=iss"}
	for name, wantKeys := range map[string]bool{"auth-token": true, "auth-signup": true, "auth-keys": true, "horses": false, "tenant": false, "cleanup": false} {
		got := envFor(tpl, name, base)
		if has := slices.Contains(got, "JWT_SIGNING_KEYS=pem"); has != wantKeys {
			t.Errorf("%s: has JWT_SIGNING_KEYS = %v, want %v", name, has, wantKeys)
		}
		if !slices.Contains(got, "JWT_PUBLIC_KEY=jwks") || !slices.Contains(got, "JWT_ISSUER=iss") {
			t.Errorf("%s: lost a shared variable: %q", name, got)
		}
	}
}

func TestPublicKeyEnv(t *testing.T) {
	t.Parallel()
	key, err := auth.GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	signer, err := auth.NewSigner(auth.SigningKey{KID: "dev", Key: key})
	if err != nil {
		t.Fatal(err)
	}
	doc, err := signer.JWKS()
	if err != nil {
		t.Fatal(err)
	}
	env, err := publicKeyEnv(func(k string) string { return map[string]string{"JWT_ISSUER": "iss"}[k] }, signer)
	if err != nil {
		t.Fatal(err)
	}
	if env("JWT_PUBLIC_KEY") != string(doc) || env("JWT_ISSUER") != "iss" {
		t.Fatalf("JWT_PUBLIC_KEY %q, JWT_ISSUER %q; want the signer's JWKS and iss", env("JWT_PUBLIC_KEY"), env("JWT_ISSUER"))
	}
	// One set already wins.
	env, err = publicKeyEnv(func(k string) string { return map[string]string{"JWT_PUBLIC_KEY": "mine"}[k] }, signer)
	if err != nil || env("JWT_PUBLIC_KEY") != "mine" {
		t.Fatalf("JWT_PUBLIC_KEY %q, %v; want mine", env("JWT_PUBLIC_KEY"), err)
	}
}
