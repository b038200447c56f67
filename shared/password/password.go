// Package password hashes and verifies passwords with argon2id (RFC 9106), stored as PHC strings:
//
//	$argon2id$v=19$m=32768,t=2,p=1$<salt>$<hash>   (salt and hash in unpadded standard base64)
//
// # Parameters
//
// DefaultParams are m=32 MiB, t=2, p=1, a 16-byte salt and a 32-byte hash. OWASP's password storage cheat
// sheet gives m=19 MiB, t=2, p=1 as the minimum; 32 MiB at the same two passes costs an attacker's GPU
// about 1.7 times the memory bandwidth per guess, and still fits a 256 MB Lambda with room to spare (one
// request per instance, so one hash at a time). p=1 because a Lambda below 1,769 MB has less than one
// vCPU: more lanes would only take turns. Measured with BenchmarkHash on a 2-core amd64 test machine:
// about 60 ms per hash (the 19 MiB floor: about 26 ms). Lambda gives CPU in proportion to memory, and
// x/crypto's argon2 has assembly for amd64 only, so on arm64 at 256 MB expect several hundred ms: give
// the function that hashes (signup, login, password change) 1,024 MB or more.
//
// The parameters are stored in every hash, so they can be raised later: Verify reports needsRehash for a
// hash made with other parameters, and the caller stores Hash(pw) again after a successful login.
//
// # Timing
//
// Verify compares in constant time. When there is no user for the email given, call VerifyDummy with the
// password: it costs one hash with the current parameters, like a real check, so the response time does
// not tell whether an account exists.
package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/crypto/argon2"
)

// Params are argon2id's costs and sizes.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes over the memory
	Threads uint8  // lanes
	SaltLen uint32 // bytes
	KeyLen  uint32 // bytes of the hash
}

// DefaultParams are the parameters of new hashes; the package comment explains the choice.
var DefaultParams = Params{Memory: 32 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

// Bounds on parameters, for Hashers and for the stored hashes Verify reads (a hash with absurd costs must
// not exhaust an instance's memory).
const (
	minMemory, maxMemory   = 8 * 1024, 256 * 1024 // KiB
	minTime, maxTime       = 1, 16
	maxThreads             = 16
	minSaltLen, maxSaltLen = 8, 64
	minKeyLen, maxKeyLen   = 16, 64
	// MaxInputBytes bounds what is hashed or verified at all, above the policy's MaxLength so that
	// passwords set under a looser policy still verify.
	MaxInputBytes = 1024
)

// Errors of Hash and Verify.
var (
	// ErrMalformedHash: the stored string is not an argon2id PHC string this package can verify (another
	// algorithm or version, bad encoding, parameters out of bounds).
	ErrMalformedHash = errors.New("password: malformed or unsupported hash")
	// ErrInputTooLong: Hash was given more than MaxInputBytes.
	ErrInputTooLong = errors.New("password: input too long to hash")
)

// Hasher hashes with fixed parameters. The zero value is not usable; build one with NewHasher, or use
// the package functions, which use DefaultParams. Safe for concurrent use.
type Hasher struct {
	p     Params
	dummy string // a hash with p of no password, for VerifyDummy
}

// NewHasher returns a Hasher with p; it fails when a parameter is out of bounds (memory 8–256 MiB, time
// 1–16, threads 1–16, salt 8–64 bytes, hash 16–64 bytes).
func NewHasher(p Params) (*Hasher, error) {
	if err := p.check(); err != nil {
		return nil, err
	}
	// A random salt and a random "hash": verifying any password against it costs one hash with p and fails.
	dummy := encode(p, randomBytes(int(p.SaltLen)), randomBytes(int(p.KeyLen)))
	return &Hasher{p: p, dummy: dummy}, nil
}

func (p Params) check() error {
	switch {
	case p.Memory < minMemory || p.Memory > maxMemory:
		return fmt.Errorf("password: memory %d KiB out of bounds %d–%d", p.Memory, minMemory, maxMemory)
	case p.Time < minTime || p.Time > maxTime:
		return fmt.Errorf("password: time %d out of bounds %d–%d", p.Time, minTime, maxTime)
	case p.Threads < 1 || p.Threads > maxThreads:
		return fmt.Errorf("password: threads %d out of bounds 1–%d", p.Threads, maxThreads)
	case p.Memory < 8*uint32(p.Threads):
		return fmt.Errorf("password: memory %d KiB below 8 KiB per thread", p.Memory)
	case p.SaltLen < minSaltLen || p.SaltLen > maxSaltLen:
		return fmt.Errorf("password: salt length %d out of bounds %d–%d", p.SaltLen, minSaltLen, maxSaltLen)
	case p.KeyLen < minKeyLen || p.KeyLen > maxKeyLen:
		return fmt.Errorf("password: hash length %d out of bounds %d–%d", p.KeyLen, minKeyLen, maxKeyLen)
	}
	return nil
}

// Params returns the Hasher's parameters.
func (h *Hasher) Params() Params { return h.p }

// Hash returns the PHC string of pw with a new random salt. It fails only with ErrInputTooLong. It does
// not apply the password policy: call CheckPolicy first when the password is being chosen.
func (h *Hasher) Hash(pw string) (string, error) {
	if len(pw) > MaxInputBytes {
		return "", ErrInputTooLong
	}
	salt := randomBytes(int(h.p.SaltLen))
	return encode(h.p, salt, argon2.IDKey([]byte(pw), salt, h.p.Time, h.p.Memory, h.p.Threads, h.p.KeyLen)), nil
}

// Verify reports whether pw matches encoded, comparing in constant time, and, when it does, whether
// encoded was made with other parameters than the Hasher's, so that the caller should store Hash(pw) in
// its place. It returns ErrMalformedHash (and false) when encoded cannot be read; a pw longer than
// MaxInputBytes simply does not match.
func (h *Hasher) Verify(pw, encoded string) (ok, needsRehash bool, err error) {
	p, salt, want, err := decode(encoded)
	if err != nil {
		return false, false, err
	}
	if len(pw) > MaxInputBytes {
		return false, false, nil
	}
	got := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return false, false, nil
	}
	return true, p != h.p, nil
}

// VerifyDummy spends the time of one Verify with the Hasher's parameters, and always fails. Call it when
// there is no stored hash to check pw against (no such user, no password set), so that the answer takes as
// long as a wrong password's.
func (h *Hasher) VerifyDummy(pw string) {
	_, _, _ = h.Verify(pw, h.dummy)
}

// defaultHasher serves the package functions. It is made on first use: its dummy hash reads crypto/rand,
// whose first read costs ~0.07 ms of every function's cold start when done in package initialisation.
var defaultHasher = sync.OnceValue(func() *Hasher { return must(NewHasher(DefaultParams)) })

func must(h *Hasher, err error) *Hasher {
	if err != nil {
		panic(err) // DefaultParams are within bounds; the tests check it
	}
	return h
}

// Hash is Hasher.Hash with DefaultParams.
func Hash(pw string) (string, error) { return defaultHasher().Hash(pw) }

// Verify is Hasher.Verify with DefaultParams as the current parameters.
func Verify(pw, encoded string) (ok, needsRehash bool, err error) {
	return defaultHasher().Verify(pw, encoded)
}

// VerifyDummy is Hasher.VerifyDummy with DefaultParams.
func VerifyDummy(pw string) { defaultHasher().VerifyDummy(pw) }

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return b
}

var b64 = base64.RawStdEncoding

func encode(p Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(key))
}

// decode reads a PHC string strictly: the one spelling encode makes.
func decode(s string) (p Params, salt, key []byte, err error) {
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, nil, nil, ErrMalformedHash
	}
	var costs [3]uint64 // m, t, p
	fields := strings.Split(parts[3], ",")
	if len(fields) != len(costs) {
		return p, nil, nil, ErrMalformedHash
	}
	for i, name := range []string{"m=", "t=", "p="} {
		v, ok := strings.CutPrefix(fields[i], name)
		n, perr := strconv.ParseUint(v, 10, 32)
		if !ok || perr != nil || strconv.FormatUint(n, 10) != v {
			return p, nil, nil, ErrMalformedHash
		}
		costs[i] = n
	}
	if costs[2] > maxThreads {
		return p, nil, nil, ErrMalformedHash
	}
	if salt, err = b64.Strict().DecodeString(parts[4]); err != nil {
		return p, nil, nil, ErrMalformedHash
	}
	if key, err = b64.Strict().DecodeString(parts[5]); err != nil {
		return p, nil, nil, ErrMalformedHash
	}
	p = Params{Memory: uint32(costs[0]), Time: uint32(costs[1]), Threads: uint8(costs[2]), SaltLen: uint32(len(salt)), KeyLen: uint32(len(key))}
	if p.check() != nil {
		return p, nil, nil, ErrMalformedHash
	}
	return p, salt, key, nil
}
