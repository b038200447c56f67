package middleware_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/rocker-app/corral/shared/audit"
	"github.com/rocker-app/corral/shared/auth"
	"github.com/rocker-app/corral/shared/config"
	"github.com/rocker-app/corral/shared/httpapi"
	"github.com/rocker-app/corral/shared/middleware"
)

const (
	testIssuer   = "https://auth.corral.test"
	testAudience = "corral"
	testSecret   = "0123456789abcdef0123456789abcdef-hs256"
)

// auditLog collects what Authenticate records; it stands in for audit.Writer, whose storage is tested in
// package audit.
type auditLog struct {
	mu     sync.Mutex
	events []audit.Event
}

var _ middleware.AuditRecorder = (*auditLog)(nil)

func (a *auditLog) Record(e audit.Event) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.events = append(a.events, e)
}

func (a *auditLog) recorded() []audit.Event {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]audit.Event(nil), a.events...)
}

func newVerifier(tb testing.TB) *auth.Verifier {
	tb.Helper()
	v, err := auth.NewVerifier(config.JWT{
		Issuer: testIssuer, Audience: testAudience, HS256Secret: testSecret,
		TenantClaim: "tenant_id", Leeway: 30 * time.Second, TrustGatewayClaims: true,
	}, nil)
	if err != nil {
		tb.Fatalf("NewVerifier: %v", err)
	}
	return v
}

// signHS256 returns a bearer token for sub in tenant, signed with the test secret; change adjusts the claims.
func signHS256(tb testing.TB, sub, tenant string, change func(jwt.MapClaims)) string {
	tb.Helper()
	now := time.Now()
	claims := jwt.MapClaims{
		"iss": testIssuer, "aud": testAudience, "sub": sub, "tenant_id": tenant, "role": "owner",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
	if change != nil {
		change(claims)
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(testSecret))
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// whoami answers with the principal in the context.
var whoami = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	p, ok := auth.FromContext(r.Context())
	if !ok {
		httpapi.WriteError(w, r, httpapi.Internal(nil))
		return
	}
	httpapi.WriteJSON(w, r, http.StatusOK, p)
})

func TestAuthenticate(t *testing.T) {
	t.Parallel()
	user, tenant := uuid.NewString(), uuid.NewString()
	future := strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10)
	past := strconv.FormatInt(time.Now().Add(-time.Hour).Unix(), 10)
	gatewayClaims := map[string]string{
		"iss": testIssuer, "aud": "[" + testAudience + "]", "sub": user, "tenant_id": tenant,
		"role": "admin", "exp": future, "session_id": "s-1", "aal": "aal2",
	}
	without := func(m map[string]string, key string) map[string]string {
		out := map[string]string{}
		for k, v := range m {
			if k != key {
				out[k] = v
			}
		}
		return out
	}
	withExp := func(exp string) map[string]string {
		out := without(gatewayClaims, "exp")
		out["exp"] = exp
		return out
	}
	fromClaims := auth.Principal{TenantID: tenant, UserID: user, Roles: []string{"admin"}, SessionID: "s-1", AAL: "aal2"}
	fromToken := auth.Principal{TenantID: tenant, UserID: user, Roles: []string{"owner"}, AAL: "aal1"}

	tests := []struct {
		name          string
		trustGateway  bool
		claims        map[string]string // the JWT authorizer's claims; nil for a route without one
		bearer        string            // the Authorization header, when set
		wantStatus    int
		wantPrincipal auth.Principal
		wantChallenge string // WWW-Authenticate
		wantAudit     bool
	}{
		{
			name: "trusted gateway claims", trustGateway: true, claims: gatewayClaims,
			wantStatus: http.StatusOK, wantPrincipal: fromClaims,
		},
		{
			name: "trusted gateway claims win over a bearer token", trustGateway: true, claims: gatewayClaims,
			bearer: "Bearer not-a-token", wantStatus: http.StatusOK, wantPrincipal: fromClaims,
		},
		{
			name: "trusted gateway claims without a tenant", trustGateway: true, claims: without(gatewayClaims, "tenant_id"),
			wantStatus: http.StatusForbidden, wantAudit: true,
		},
		{
			name: "trusted gateway claims without a subject", trustGateway: true, claims: without(gatewayClaims, "sub"),
			wantStatus: http.StatusUnauthorized, wantChallenge: `Bearer error="invalid_token"`, wantAudit: true,
		},
		{
			name: "trusted gateway claims expired", trustGateway: true, claims: withExp(past),
			wantStatus: http.StatusUnauthorized, wantChallenge: `Bearer error="invalid_token"`, wantAudit: true,
		},
		{
			name: "trusted gateway, no authorizer on the route, bearer token", trustGateway: true,
			bearer: "Bearer " + signHS256(t, user, tenant, nil), wantStatus: http.StatusOK, wantPrincipal: fromToken,
		},
		{
			name: "untrusted gateway claims are ignored", trustGateway: false, claims: gatewayClaims,
			wantStatus: http.StatusUnauthorized, wantChallenge: "Bearer",
		},
		{
			name: "untrusted gateway claims, bearer token", trustGateway: false, claims: gatewayClaims,
			bearer: "bearer " + signHS256(t, user, tenant, nil), wantStatus: http.StatusOK, wantPrincipal: fromToken,
		},
		{
			name: "bad signature", bearer: "Bearer " + signHS256(t, user, tenant, nil) + "x",
			wantStatus: http.StatusUnauthorized, wantChallenge: `Bearer error="invalid_token"`, wantAudit: true,
		},
		{
			name: "other audience", bearer: "Bearer " + signHS256(t, user, tenant, func(c jwt.MapClaims) { c["aud"] = "someone-else" }),
			wantStatus: http.StatusUnauthorized, wantChallenge: `Bearer error="invalid_token"`, wantAudit: true,
		},
		{
			name: "token without a tenant", bearer: "Bearer " + signHS256(t, user, tenant, func(c jwt.MapClaims) { delete(c, "tenant_id") }),
			wantStatus: http.StatusForbidden, wantAudit: true,
		},
		{name: "basic credentials", bearer: "Basic dXNlcjpwdw==", wantStatus: http.StatusUnauthorized, wantChallenge: "Bearer"},
		{name: "empty bearer", bearer: "Bearer  ", wantStatus: http.StatusUnauthorized, wantChallenge: "Bearer"},
		{name: "nothing", wantStatus: http.StatusUnauthorized, wantChallenge: "Bearer"},
	}
	verifier := newVerifier(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ev := gatewayEvent(http.MethodGet, "/me", "gw-req-5", "203.0.113.9")
			if tt.claims != nil {
				ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
					JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: tt.claims, Scopes: nil},
				}
			}
			if tt.bearer != "" {
				ev.Headers["authorization"] = tt.bearer
			}
			rec := &auditLog{}
			h := middleware.Chain(middleware.RequestID(), middleware.Authenticate(verifier, middleware.AuthOptions{TrustGateway: tt.trustGateway, Audit: rec}))(whoami)
			res := serveLambda(t, h, ev)

			if res.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", res.Code, tt.wantStatus, res.Body)
			}
			if got := res.Header().Get("WWW-Authenticate"); got != tt.wantChallenge {
				t.Errorf("WWW-Authenticate = %q, want %q", got, tt.wantChallenge)
			}
			if tt.wantStatus == http.StatusOK {
				var got auth.Principal
				if err := json.Unmarshal(res.Body.Bytes(), &got); err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(tt.wantPrincipal, got); diff != "" {
					t.Errorf("principal (-want +got):\n%s", diff)
				}
			} else {
				p := readProblem(t, res)
				if p.RequestID != "gw-req-5" {
					t.Errorf("problem request_id = %q, want gw-req-5", p.RequestID)
				}
				if strings.Contains(res.Body.String(), "auth:") {
					t.Errorf("the verifier's reason reached the client: %s", res.Body)
				}
			}

			recorded := rec.recorded()
			if !tt.wantAudit {
				if len(recorded) != 0 {
					t.Errorf("audit events %v, want none", recorded)
				}
				return
			}
			if len(recorded) != 1 {
				t.Fatalf("%d audit events, want 1: %v", len(recorded), recorded)
			}
			e := recorded[0]
			if e.Kind != audit.KindAuthFailed || e.IP != "203.0.113.9" || e.Route != "GET /me" || e.RequestID != "gw-req-5" || e.Detail["reason"] == "" {
				t.Errorf("audit event %+v, want auth.failed from 203.0.113.9 on GET /me with request id and reason", e)
			}
		})
	}
}

// TestAuthenticateOutsideLambda checks a request that did not come through API Gateway: with trustGateway
// set, there are no claims to take, so a bearer token is required.
func TestAuthenticateOutsideLambda(t *testing.T) {
	t.Parallel()
	user, tenant := uuid.NewString(), uuid.NewString()
	h := middleware.Authenticate(newVerifier(t), middleware.AuthOptions{TrustGateway: true})(whoami)

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/me", nil))
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("without a token: status %d, want 401", rec.Code)
	}

	r := httptest.NewRequest(http.MethodGet, "/me", nil)
	r.Header.Set("Authorization", "Bearer "+signHS256(t, user, tenant, nil))
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if rec.Code != http.StatusOK {
		t.Fatalf("with a token: status %d, want 200; body %s", rec.Code, rec.Body)
	}
	var got auth.Principal
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.UserID != user || got.TenantID != tenant {
		t.Errorf("principal %+v, want user %s in tenant %s", got, user, tenant)
	}

	// A bad token with no audit recorder still answers 401.
	r = httptest.NewRequest(http.MethodGet, "/me", nil)
	r.Header.Set("Authorization", "Bearer garbage")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("bad token without a recorder: status %d, want 401", rec.Code)
	}
}
