// Package csrf issues and checks signed double-submit tokens for browsers that keep their refresh token in
// an HttpOnly cookie.
//
// A token is 32 random bytes followed by their HMAC-SHA256 under a server secret, base64url-encoded without
// padding. The browser gets it twice from GET /auth/csrf (Handler): in a cookie its script can read and in
// the JSON body; it sends it back in the X-CSRF-Token header of every state-changing request. The
// middleware (middleware.CSRF) accepts such a request only when the header equals the cookie and the token
// is signed by us: another site can make the browser send our cookies but can neither read them nor set
// our header, and the signature keeps a token planted by someone else (a sibling subdomain writing cookies)
// from counting. The __Host- cookie prefix keeps sibling subdomains from writing the cookie in the first
// place.
package csrf

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"time"

	"github.com/rocker-app/corral/shared/httpapi"
)

// Names shared by Handler and middleware.CSRF.
const (
	// DefaultRefreshCookie is the cookie holding the refresh token in cookie mode: a request carrying it is
	// cookie-authenticated and needs a CSRF token for a state-changing method.
	DefaultRefreshCookie = "__Host-corral_refresh"
	// DefaultCookie is the cookie holding the CSRF token (readable by the page's script).
	DefaultCookie = "__Host-corral_csrf"
	// DefaultHeader is the request header that carries the CSRF token back.
	DefaultHeader = "X-CSRF-Token"
	// MinSecretLen is the least length of the signing secret, in bytes.
	MinSecretLen = 32
)

const (
	randomLen = 32
	tagLen    = sha256.Size
)

var (
	enc = base64.RawURLEncoding
	// tokenLen is the length of an encoded token.
	tokenLen = enc.EncodedLen(randomLen + tagLen)
)

// Tokens issues and checks CSRF tokens under one secret. It is safe for concurrent use.
type Tokens struct {
	key []byte
}

// New returns Tokens signing with a key derived from secret (at least MinSecretLen bytes of random; keep it
// apart from other secrets all the same). A shorter secret is an error.
func New(secret []byte) (*Tokens, error) {
	if len(secret) < MinSecretLen {
		return nil, fmt.Errorf("csrf: secret of %d bytes, want at least %d", len(secret), MinSecretLen)
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("corral csrf token v1"))
	return &Tokens{key: m.Sum(nil)}, nil
}

// Issue returns a fresh token.
func (t *Tokens) Issue() string {
	b := make([]byte, randomLen, randomLen+tagLen)
	_, _ = rand.Read(b) // crypto/rand.Read never returns an error (it crashes the program instead)
	return enc.EncodeToString(t.sign(b))
}

// Valid reports whether token is one Issue made under the same secret. It takes the same time for every
// token of the right length.
func (t *Tokens) Valid(token string) bool {
	if len(token) != tokenLen {
		return false
	}
	b, err := enc.DecodeString(token)
	if err != nil || len(b) != randomLen+tagLen {
		return false
	}
	want := t.sign(append([]byte(nil), b[:randomLen]...))
	return hmac.Equal(want[randomLen:], b[randomLen:])
}

// sign appends the tag of random to it.
func (t *Tokens) sign(random []byte) []byte {
	m := hmac.New(sha256.New, t.key)
	m.Write(random)
	return m.Sum(random)
}

// HandlerOptions configure Handler.
type HandlerOptions struct {
	// Cookie is the CSRF cookie's name (DefaultCookie). Keep the __Host- prefix: the browser then insists
	// on Secure, Path=/ and no Domain, so no sibling subdomain can set it.
	Cookie string
	// MaxAge is the cookie's lifetime; 0 makes it a session cookie, gone when the browser closes (the page
	// fetches a new one when it loads).
	MaxAge time.Duration
}

// Response is the JSON body of Handler.
type Response struct {
	CSRFToken string `json:"csrf_token"`
}

// Handler answers GET /auth/csrf: 200 with {"csrf_token": "..."} and the same token in the CSRF cookie
// (Secure, Path=/, SameSite=Strict, not HttpOnly so the page's script may read it), Cache-Control:
// no-store. A request that already carries a valid token in the cookie gets that token back, so that
// several tabs share one token. Other methods than GET and HEAD are 405 problem+json.
func Handler(t *Tokens, o HandlerOptions) http.Handler {
	if t == nil {
		panic("csrf: Handler without Tokens")
	}
	if o.Cookie == "" {
		o.Cookie = DefaultCookie
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			httpapi.WriteError(w, r, httpapi.Errorf(httpapi.CodeMethodNotAllowed, "use GET"))
			return
		}
		token := ""
		if c, err := r.Cookie(o.Cookie); err == nil && t.Valid(c.Value) {
			token = c.Value
		} else {
			token = t.Issue()
		}
		http.SetCookie(w, &http.Cookie{
			Name:     o.Cookie,
			Value:    token,
			Path:     "/",
			MaxAge:   int(o.MaxAge / time.Second),
			Secure:   true,
			HttpOnly: false,
			SameSite: http.SameSiteStrictMode,
		})
		w.Header().Set("Cache-Control", "no-store")
		httpapi.WriteJSON(w, r, http.StatusOK, Response{CSRFToken: token})
	})
}
