package awsenv_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rocker-app/corral/shared/awsenv"
)

func TestConfig(t *testing.T) {
	t.Parallel()
	lambdaEnv := map[string]string{"AWS_ACCESS_KEY_ID": "ASIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_SESSION_TOKEN": "token"}
	tests := []struct {
		name                     string
		env                      map[string]string
		opts                     awsenv.Options
		wantID, wantSecret, want string // want: session token
		wantErr                  error
	}{
		{name: "Lambda: the role's session credentials", env: lambdaEnv, opts: awsenv.Options{Region: "eu-north-1"},
			wantID: "ASIAEXAMPLE", wantSecret: "secret", want: "token"},
		{name: "local server: static local credentials", env: lambdaEnv, opts: awsenv.Options{Region: "us-east-1", Endpoint: "http://127.0.0.1:9324"},
			wantID: "local", wantSecret: "local"},
		{name: "no credentials: the first call fails", env: map[string]string{"AWS_ACCESS_KEY_ID": "only-the-id"},
			opts: awsenv.Options{Region: "us-east-1", Timeout: time.Second}, wantErr: awsenv.ErrNoCredentials},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := awsenv.Config(func(k string) string { return tt.env[k] }, tt.opts)
			if cfg.Region != tt.opts.Region || cfg.HTTPClient == nil {
				t.Errorf("Region %q, HTTPClient %v; want %q and a client", cfg.Region, cfg.HTTPClient, tt.opts.Region)
			}
			got, err := cfg.Credentials.Retrieve(context.Background())
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Retrieve: err = %v, want %v", err, tt.wantErr)
			}
			if got.AccessKeyID != tt.wantID || got.SecretAccessKey != tt.wantSecret || got.SessionToken != tt.want {
				t.Errorf("credentials %q/%q/%q, want %q/%q/%q", got.AccessKeyID, got.SecretAccessKey, got.SessionToken, tt.wantID, tt.wantSecret, tt.want)
			}
		})
	}
}
