package identity

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/mail"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/rocker-app/corral/shared/httpapi"
	"github.com/rocker-app/corral/shared/opaque"
)

// SignupRequest is the body of POST /auth/signup: an email, a password, and either the name of a new
// organisation (the user becomes its owner) or an invite code into an existing one.
type SignupRequest struct {
	Email       string `json:"email"`
	Password    string `json:"password"`
	DisplayName string `json:"display_name"`
	TenantName  string `json:"tenant_name"`
	InviteCode  string `json:"invite_code"`
}

// SignupResult is the answer to a signup. It has the same shape whether or not the email was already
// registered, so the answer never tells whether an address has an account.
type SignupResult struct {
	Status string `json:"status"`
	// VerificationToken is set only when Options.RevealVerificationToken is (local development).
	VerificationToken string `json:"verification_token,omitempty"`
}

func normalizeEmail(e string) string { return strings.ToLower(strings.TrimSpace(e)) }

// validEmail accepts a bare address (no display name) of at most 254 bytes with a dot in its domain.
func validEmail(e string) bool {
	if len(e) > 254 || strings.ContainsAny(e, " <>") {
		return false
	}
	a, err := mail.ParseAddress(e)
	if err != nil || a.Address != e {
		return false
	}
	at := strings.LastIndexByte(e, '@')
	return at > 0 && strings.Contains(e[at+1:], ".")
}

var slugUnsafe = regexp.MustCompile(`[^a-z0-9]+`)

// slugFor makes a URL-safe slug from an organisation name with a random suffix, so two organisations of
// the same name never collide.
func slugFor(name string) string {
	base := strings.Trim(slugUnsafe.ReplaceAllString(strings.ToLower(name), "-"), "-")
	if len(base) > 40 {
		base = strings.TrimRight(base[:40], "-")
	}
	var b [3]byte
	_, _ = rand.Read(b[:])
	if base == "" {
		return "org-" + hex.EncodeToString(b[:])
	}
	return base + "-" + hex.EncodeToString(b[:])
}

func (r *SignupRequest) validate(pw Passwords) error {
	r.Email = normalizeEmail(r.Email)
	r.DisplayName = strings.TrimSpace(r.DisplayName)
	r.TenantName = strings.TrimSpace(r.TenantName)
	r.InviteCode = strings.TrimSpace(r.InviteCode)
	var fields []httpapi.FieldProblem
	if !validEmail(r.Email) {
		fields = append(fields, httpapi.FieldProblem{Field: "email", Reason: "must be an email address"})
	}
	if err := pw.Check(r.Password); err != nil {
		fields = append(fields, httpapi.FieldProblem{Field: "password", Reason: err.Error()})
	}
	if utf8.RuneCountInString(r.DisplayName) > 200 {
		fields = append(fields, httpapi.FieldProblem{Field: "display_name", Reason: "must be at most 200 characters"})
	}
	switch {
	case r.TenantName == "" && r.InviteCode == "":
		fields = append(fields, httpapi.FieldProblem{Field: "tenant_name", Reason: "give tenant_name to create an organisation, or invite_code to join one"})
	case r.TenantName != "" && r.InviteCode != "":
		fields = append(fields, httpapi.FieldProblem{Field: "invite_code", Reason: "give either tenant_name or invite_code, not both"})
	case utf8.RuneCountInString(r.TenantName) > 200:
		fields = append(fields, httpapi.FieldProblem{Field: "tenant_name", Reason: "must be at most 200 characters"})
	case len(r.InviteCode) > 200:
		fields = append(fields, httpapi.FieldProblem{Field: "invite_code", Reason: "is not a valid invite code"})
	}
	if fields != nil {
		return httpapi.Invalid(fields...)
	}
	return nil
}

// emailAAD binds an email ciphertext to its user row.
func emailAAD(userID string) []byte { return []byte("users.email|" + userID) }

// totpAAD binds a TOTP secret ciphertext to its user.
func totpAAD(userID string) []byte { return []byte("mfa_factors.secret|" + userID) }

// Signup creates an account with a new organisation or through an invite. A registered email gets the
// same answer as a new one (and an audit event), so signup cannot be used to find accounts; an invalid
// invite is a 400 that says nothing about the email.
func (s *Service) Signup(ctx context.Context, r SignupRequest, c Client) (SignupResult, error) {
	if err := r.validate(s.pw); err != nil {
		return SignupResult{}, err
	}
	hash, err := s.pw.Hash(r.Password)
	if err != nil {
		return SignupResult{}, httpapi.Internal(err)
	}
	userID := uuid.NewString()
	emailEnc, err := s.seal.Seal(ctx, []byte(r.Email), emailAAD(userID))
	if err != nil {
		return SignupResult{}, httpapi.Internal(err)
	}
	display := r.DisplayName
	if display == "" {
		display = r.Email[:strings.IndexByte(r.Email, '@')]
	}
	acct := NewAccount{UserID: userID, DisplayName: display, EmailEnc: emailEnc, EmailIndex: s.index.Index(r.Email), PasswordHash: hash}
	verifyToken, verifyHash := opaque.New("cev")
	verify := Challenge{Kind: ChallengeEmailVerification, Hash: verifyHash, UserID: userID, ExpiresAt: s.opts.Now().Add(s.opts.VerificationTTL)}

	var tenantID string
	if r.InviteCode != "" {
		var m Membership
		m, err = s.store.SignupInvite(ctx, acct, opaque.Hash(r.InviteCode), verify)
		tenantID = m.TenantID
	} else {
		tenantID = uuid.NewString()
		err = s.store.SignupTenant(ctx, acct, NewTenant{ID: tenantID, Name: r.TenantName, Slug: slugFor(r.TenantName)}, verify)
	}
	switch {
	case errors.Is(err, ErrEmailTaken):
		s.record(c, "", "", KindSignupDuplicate, nil)
		return SignupResult{Status: "pending_verification"}, nil
	case errors.Is(err, ErrInviteInvalid):
		return SignupResult{}, httpapi.Invalid(httpapi.FieldProblem{Field: "invite_code", Reason: "is unknown, used, revoked or expired"})
	case err != nil:
		return SignupResult{}, httpapi.Internal(err)
	}
	s.record(c, tenantID, userID, KindSignup, map[string]any{"invite": r.InviteCode != ""})
	res := SignupResult{Status: "pending_verification"}
	if s.opts.RevealVerificationToken {
		res.VerificationToken = verifyToken
	}
	return res, nil
}

// VerifyEmail consumes an email verification token.
func (s *Service) VerifyEmail(ctx context.Context, token string, c Client) error {
	if token == "" || len(token) > 200 {
		return httpapi.Invalid(httpapi.FieldProblem{Field: "token", Reason: "is required"})
	}
	err := s.store.VerifyEmail(ctx, opaque.Hash(token), s.opts.Now())
	if errors.Is(err, ErrChallenge) {
		return httpapi.Invalid(httpapi.FieldProblem{Field: "token", Reason: "is unknown, used or expired"})
	}
	if err != nil {
		return httpapi.Internal(err)
	}
	s.record(c, "", "", KindEmailVerified, nil)
	return nil
}
