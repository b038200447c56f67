package webhook_test

import (
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rocker-app/corral/shared/webhook"
)

// The example of the Standard Webhooks specification and its reference libraries.
func TestSignMatchesTheSpecificationExample(t *testing.T) {
	t.Parallel()
	got, err := webhook.Sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek",
		time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Errorf("Sign = %q, want %q", got, want)
	}
}

func TestSignatureHeaderVerifiesWithEachSecret(t *testing.T) {
	t.Parallel()
	current, previous, other := webhook.NewSecret(), webhook.NewSecret(), webhook.NewSecret()
	now := time.Now()
	body := []byte(`{"type":"horse.created","data":{}}`)
	sig, err := webhook.SignatureHeader([]string{current, previous}, "msg_1", now, body)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(strings.Split(sig, " ")); n != 2 {
		t.Fatalf("header %q has %d signatures, want 2", sig, n)
	}
	h := http.Header{}
	h.Set("webhook-id", "msg_1")
	h.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	h.Set("webhook-signature", sig)
	for name, secret := range map[string]string{"current": current, "previous": previous} {
		if err := verify(secret, h, body, now); err != nil {
			t.Errorf("verify with the %s secret: %v", name, err)
		}
	}
	if err := verify(other, h, body, now); err == nil {
		t.Error("verify with an unrelated secret succeeded")
	}
	if err := verify(current, h, append(body, ' '), now); err == nil {
		t.Error("verify of an altered body succeeded")
	}
}

func TestNewSecret(t *testing.T) {
	t.Parallel()
	a, b := webhook.NewSecret(), webhook.NewSecret()
	if a == b {
		t.Fatal("two secrets are equal")
	}
	rest, ok := strings.CutPrefix(a, "whsec_")
	if !ok {
		t.Fatalf("secret %q lacks the whsec_ prefix", a)
	}
	key, err := base64.StdEncoding.DecodeString(rest)
	if err != nil || len(key) != 32 {
		t.Errorf("secret %q: key of %d bytes (err %v), want 32", a, len(key), err)
	}
}

func TestSignRefusesBadSecrets(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "secret", "whsec_", "whsec_not base64!", "sk_" + strings.Repeat("A", 44)} {
		if _, err := webhook.Sign(s, "id", time.Now(), nil); !errors.Is(err, webhook.ErrBadSecret) {
			t.Errorf("Sign with secret %q: err = %v, want ErrBadSecret", s, err)
		}
	}
	if _, err := webhook.SignatureHeader(nil, "id", time.Now(), nil); err == nil {
		t.Error("SignatureHeader with no secret: err = nil")
	}
}
