package totp_test

import (
	"bytes"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rocker-app/corral/shared/totp"
)

// rfcSecret is the SHA1 seed of RFC 6238 Appendix B: the ASCII "12345678901234567890".
var rfcSecret = []byte("12345678901234567890")

// RFC 6238 Appendix B, SHA1 rows; the RFC prints 8 digits, authenticator apps show the last 6.
func TestCodeRFC6238Vectors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		unix int64
		want string // 8 digits, as the RFC prints them
	}{
		{59, "94287082"},
		{1111111109, "07081804"},
		{1111111111, "14050471"},
		{1234567890, "89005924"},
		{2000000000, "69279037"},
		{20000000000, "65353130"},
	}
	for _, tt := range tests {
		got := totp.Code(rfcSecret, time.Unix(tt.unix, 0))
		if want := tt.want[2:]; got != want {
			t.Errorf("T=%d: Code = %s, want %s", tt.unix, got, want)
		}
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	secret := totp.NewSecret()
	now := time.Date(2030, 5, 1, 12, 0, 10, 0, time.UTC)
	step := totp.Step(now)
	codeAt := func(offset time.Duration) string { return totp.Code(secret, now.Add(offset)) }
	tests := []struct {
		name     string
		secret   []byte
		code     string
		lastStep int64
		want     int64
		ok       bool
	}{
		{"current step", secret, codeAt(0), 0, step, true},
		{"previous step", secret, codeAt(-totp.Period), 0, step - 1, true},
		{"next step", secret, codeAt(totp.Period), 0, step + 1, true},
		{"two steps ago", secret, codeAt(-2 * totp.Period), 0, 0, false},
		{"two steps ahead", secret, codeAt(2 * totp.Period), 0, 0, false},
		{"replayed: step already used", secret, codeAt(0), step, 0, false},
		{"an earlier step than the last used", secret, codeAt(-totp.Period), step - 1, 0, false},
		{"a later step than the last used", secret, codeAt(totp.Period), step, step + 1, true},
		{"wrong code", secret, wrong(codeAt(0)), 0, 0, false},
		{"five digits", secret, codeAt(0)[:5], 0, 0, false},
		{"letters", secret, "12345a", 0, 0, false},
		{"signed", secret, "+12345", 0, 0, false},
		{"empty", secret, "", 0, 0, false},
		{"another secret", totp.NewSecret(), codeAt(0), 0, 0, false},
		{"short secret", secret[:15], codeAt(0), 0, 0, false},
		{"no secret", nil, codeAt(0), 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := totp.Validate(tt.secret, tt.code, now, tt.lastStep)
			if got != tt.want || ok != tt.ok {
				t.Errorf("Validate = %d, %v; want %d, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

// wrong returns another six-digit code.
func wrong(code string) string {
	b := []byte(code)
	b[5] = '0' + (b[5]-'0'+1)%10
	return string(b)
}

func TestNewSecret(t *testing.T) {
	t.Parallel()
	a, b := totp.NewSecret(), totp.NewSecret()
	if len(a) != totp.SecretLen || bytes.Equal(a, b) {
		t.Errorf("secrets %x and %x: want two different ones of %d bytes", a, b, totp.SecretLen)
	}
}

func TestEncodeDecode(t *testing.T) {
	t.Parallel()
	if got := totp.Encode(rfcSecret); got != "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ" {
		t.Errorf("Encode = %s, want RFC 4648 base32 without padding", got)
	}
	secret := totp.NewSecret()
	text := totp.Encode(secret)
	if len(text) != 32 {
		t.Errorf("Encode gives %d characters, want 32", len(text))
	}
	for _, typed := range []string{text, strings.ToLower(text), text[:4] + " " + text[4:], text + "===="} {
		got, err := totp.Decode(typed)
		if err != nil || !bytes.Equal(got, secret) {
			t.Errorf("Decode(%q) = %x, %v; want the secret", typed, got, err)
		}
	}
	for _, bad := range []string{"", "not base32!", "GEZDGNBV"} {
		if _, err := totp.Decode(bad); !errors.Is(err, totp.ErrInvalidSecret) {
			t.Errorf("Decode(%q): err = %v, want ErrInvalidSecret", bad, err)
		}
	}
}

func TestURI(t *testing.T) {
	t.Parallel()
	raw := totp.URI("Corral", "ann+1@example.com", rfcSecret)
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if u.Scheme != "otpauth" || u.Host != "totp" || u.Path != "/Corral:ann+1@example.com" {
		t.Errorf("URI %s: want otpauth://totp/Corral:ann+1@example.com", raw)
	}
	want := url.Values{"secret": {"GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"}, "issuer": {"Corral"}, "algorithm": {"SHA1"}, "digits": {"6"}, "period": {"30"}}
	if diff := cmp.Diff(want, u.Query()); diff != "" {
		t.Errorf("URI parameters (-want +got):\n%s", diff)
	}
	if got := totp.URI("Rocker: Corral", "ann", rfcSecret); !strings.HasPrefix(got, "otpauth://totp/Rocker%20%20Corral:ann?") {
		t.Errorf("URI with ':' in the issuer = %s", got)
	}
}
