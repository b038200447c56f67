package password_test

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rocker-app/corral/shared/password"
)

// Hashes made by the reference implementation (libargon2, argon2id_hash_encoded).
const (
	// "correct-horse-battery", salt "corral-test-salt", DefaultParams.
	refDefault = "$argon2id$v=19$m=32768,t=2,p=1$Y29ycmFsLXRlc3Qtc2FsdA$z15QrgNDyI0LMIAavTnJBqT2uAmHF+td6DoeuMi3jVU"
	// "password", salt "somesalt", m=64 MiB, t=2, p=4, 24-byte hash.
	refOther = "$argon2id$v=19$m=65536,t=2,p=4$c29tZXNhbHQ$F1jG2CV3/Nr+yRuIsPKw0J9r4s7cJHBU"
)

// cheap hashes at the lowest costs allowed, for tests that hash many times.
func cheap(t testing.TB) *password.Hasher {
	t.Helper()
	h, err := password.NewHasher(password.Params{Memory: 8 * 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestHashAndVerify(t *testing.T) {
	t.Parallel()
	encoded, err := password.Hash("correct-horse-battery")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^\$argon2id\$v=19\$m=32768,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`).MatchString(encoded) {
		t.Errorf("Hash = %q, want a PHC string with DefaultParams", encoded)
	}
	// The race detector makes argon2id at DefaultParams slow: the cases below hash at most once each, and
	// the cheap Hasher covers the rest.
	c1, _ := cheap(t).Hash("correct-horse-battery")
	if c2, _ := cheap(t).Hash("correct-horse-battery"); c1 == c2 {
		t.Error("two hashes of one password are equal: the salt is not random")
	}
	tests := []struct {
		name, pw, encoded string
		ok, rehash        bool
	}{
		{"right password", "correct-horse-battery", encoded, true, false},
		{"wrong password", "correct-horse-batterY", encoded, false, false},
		{"empty password, cheaper hash", "", c1, false, false},
		{"reference hash, default parameters", "correct-horse-battery", refDefault, true, false},
		{"reference hash, other parameters", "password", refOther, true, true},
		{"too long to verify", strings.Repeat("x", password.MaxInputBytes+1), encoded, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ok, rehash, err := password.Verify(tt.pw, tt.encoded)
			if err != nil {
				t.Fatal(err)
			}
			if ok != tt.ok || rehash != tt.rehash {
				t.Errorf("Verify = ok %v, needsRehash %v; want %v, %v", ok, rehash, tt.ok, tt.rehash)
			}
		})
	}
}

func TestNeedsRehashAfterParametersChange(t *testing.T) {
	t.Parallel()
	old, err := cheap(t).Hash("correct-horse-battery")
	if err != nil {
		t.Fatal(err)
	}
	ok, rehash, err := password.Verify("correct-horse-battery", old)
	if err != nil || !ok || !rehash {
		t.Errorf("Verify of a cheaper hash = %v, %v, %v; want ok and needsRehash", ok, rehash, err)
	}
	ok, rehash, err = cheap(t).Verify("correct-horse-battery", old)
	if err != nil || !ok || rehash {
		t.Errorf("Verify with the same parameters = %v, %v, %v; want ok without rehash", ok, rehash, err)
	}
}

func TestVerifyMalformedHashes(t *testing.T) {
	t.Parallel()
	h := cheap(t)
	good, _ := h.Hash("pw")
	salt := "$Y29ycmFsLXRlc3Qtc2FsdA$z15QrgNDyI0LMIAavTnJBqT2uAmHF+td6DoeuMi3jVU"
	for _, encoded := range []string{
		"",
		"plaintext",
		strings.Replace(good, "argon2id", "argon2i", 1),
		strings.Replace(good, "v=19", "v=16", 1),
		"$argon2id$m=8192,t=1,p=1" + salt,              // no version
		"$argon2id$v=19$m=8192,t=1" + salt,             // no p
		"$argon2id$v=19$t=1,m=8192,p=1" + salt,         // out of order
		"$argon2id$v=19$m=08192,t=1,p=1" + salt,        // another spelling
		"$argon2id$v=19$m=8192,t=1,p=1,x=2" + salt,     // extra
		"$argon2id$v=19$m=4194304,t=1,p=1" + salt,      // 4 GiB
		"$argon2id$v=19$m=8192,t=1000,p=1" + salt,      // too many passes
		"$argon2id$v=19$m=8192,t=1,p=0" + salt,         // no lanes
		"$argon2id$v=19$m=8192,t=1,p=300" + salt,       // too many lanes
		"$argon2id$v=19$m=8192,t=1,p=1$c2FsdA$" + "z1", // short salt and hash
		"$argon2id$v=19$m=8192,t=1,p=1$Y29ycmFsLXRlc3Qtc2FsdA==$z15QrgNDyI0LMIAavTnJBqT2uAmHF+td6DoeuMi3jVU", // padded
		good + "$",
	} {
		ok, rehash, err := h.Verify("pw", encoded)
		if !errors.Is(err, password.ErrMalformedHash) || ok || rehash {
			t.Errorf("Verify(%q) = %v, %v, %v; want ErrMalformedHash", encoded, ok, rehash, err)
		}
	}
}

func TestHashRefusesHugeInput(t *testing.T) {
	t.Parallel()
	if _, err := cheap(t).Hash(strings.Repeat("x", password.MaxInputBytes+1)); !errors.Is(err, password.ErrInputTooLong) {
		t.Errorf("err = %v, want ErrInputTooLong", err)
	}
}

func TestNewHasherBounds(t *testing.T) {
	t.Parallel()
	if got := cheap(t).Params(); got.Memory != 8*1024 {
		t.Errorf("Params = %+v", got)
	}
	base := password.DefaultParams
	for name, change := range map[string]func(*password.Params){
		"memory too small": func(p *password.Params) { p.Memory = 1024 },
		"memory too large": func(p *password.Params) { p.Memory = 1 << 20 },
		"no passes":        func(p *password.Params) { p.Time = 0 },
		"no lanes":         func(p *password.Params) { p.Threads = 0 },
		"short salt":       func(p *password.Params) { p.SaltLen = 4 },
		"short hash":       func(p *password.Params) { p.KeyLen = 8 },
	} {
		p := base
		change(&p)
		if _, err := password.NewHasher(p); err == nil {
			t.Errorf("%s: NewHasher succeeded", name)
		}
	}
}

func TestVerifyDummy(t *testing.T) {
	t.Parallel()
	// It must not panic and must not depend on the password; its cost is argon2 with the Hasher's
	// parameters (see the internal test), which a test cannot time reliably.
	cheap(t).VerifyDummy("anything")
	password.VerifyDummy("")
}

func TestCheckPolicy(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		pw   string
		want error
	}{
		{"ten letters", "abcdefghij", nil},
		{"passphrase", "correct horse battery staple", nil},
		{"ten non-Latin characters", "пароль-пар", nil},
		{"256 bytes", strings.Repeat("a", 256), nil},
		{"surrounding spaces kept and allowed", "  abcdefghij  ", nil},
		{"nine letters", "abcdefghi", password.ErrTooShort},
		{"four characters of many bytes", "日本語語", password.ErrTooShort},
		{"empty", "", password.ErrBlank},
		{"only white space", strings.Repeat(" \t", 8), password.ErrBlank},
		{"257 bytes", strings.Repeat("a", 257), password.ErrTooLong},
		{"invalid UTF-8", "abcdefghij\xff", password.ErrNotUTF8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := password.CheckPolicy(tt.pw)
			if !errors.Is(err, tt.want) || (err == nil) != (tt.want == nil) {
				t.Errorf("CheckPolicy = %v, want %v", err, tt.want)
			}
		})
	}
	var pe *password.PolicyError
	if !errors.As(password.CheckPolicy("short"), &pe) {
		t.Fatal("the error is not a *PolicyError")
	}
	if diff := cmp.Diff("must be at least 10 characters", pe.Reason); diff != "" {
		t.Errorf("Reason (-want +got):\n%s", diff)
	}
}

// BenchmarkHash measures DefaultParams (the package comment reports the number) beside OWASP's minimum.
func BenchmarkHash(b *testing.B) {
	for _, bc := range []struct {
		name string
		p    password.Params
	}{
		{"default m=32MiB t=2 p=1", password.DefaultParams},
		{"owasp-min m=19MiB t=2 p=1", password.Params{Memory: 19 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			h, err := password.NewHasher(bc.p)
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := h.Hash("correct-horse-battery"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkVerifyDummy(b *testing.B) {
	for b.Loop() {
		password.VerifyDummy("correct-horse-battery")
	}
}
