package auth

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"
)

// defaultAAL is the assurance level of a token that does not state one.
const defaultAAL = "aal1"

// claimMapper turns verified claims into a Principal. It is immutable once built.
type claimMapper struct {
	tenantClaim string   // the configured name, first tried as one literal top-level key
	tenantPath  []string // the same name split on dots, walked through nested objects
	roleClaim   string   // a further claim holding roles (e.g. cognito:groups); "" for none
	rolePath    []string
}

// newClaimMapper reads the tenant claim name: a dotted path such as "app_metadata.tenant_id", or a plain
// key such as "tenant_id" or "custom:tenant_id" (a colon is part of a key name, never a separator).
func newClaimMapper(tenantClaim string) (claimMapper, error) {
	tenantClaim = strings.TrimSpace(tenantClaim)
	if tenantClaim == "" {
		tenantClaim = "tenant_id"
	}
	path := strings.Split(tenantClaim, ".")
	for _, seg := range path {
		if seg == "" {
			return claimMapper{}, fmt.Errorf("tenant claim %q has an empty path segment", tenantClaim)
		}
	}
	return claimMapper{tenantClaim: tenantClaim, tenantPath: path}, nil
}

// withRoleClaim returns m also taking roles from the claim named roleClaim (a literal key or a dotted path,
// as the tenant claim); "" adds nothing.
func (m claimMapper) withRoleClaim(roleClaim string) (claimMapper, error) {
	roleClaim = strings.TrimSpace(roleClaim)
	if roleClaim == "" {
		return m, nil
	}
	path := strings.Split(roleClaim, ".")
	if slices.Contains(path, "") {
		return claimMapper{}, fmt.Errorf("role claim %q has an empty path segment", roleClaim)
	}
	m.roleClaim, m.rolePath = roleClaim, path
	return m, nil
}

// principal maps claims to a Principal. A missing or non-UUID sub wraps ErrInvalidToken; a missing or
// non-UUID tenant wraps ErrNoTenant.
//
// Roles come first from the object that holds the tenant claim (app_metadata.role / app_metadata.roles when
// the tenant claim is app_metadata.tenant_id), then from the top-level role / roles, without duplicates:
// Supabase's top-level role "authenticated" is kept but ranks after the tenant's own role.
func (m claimMapper) principal(claims map[string]any) (Principal, error) {
	sub, _ := claims["sub"].(string)
	if sub == "" {
		return Principal{}, fmt.Errorf("%w: sub claim missing", ErrInvalidToken)
	}
	userID, err := uuid.Parse(sub)
	if err != nil {
		return Principal{}, fmt.Errorf("%w: sub %q is not a UUID", ErrInvalidToken, sub)
	}

	raw, parent, found := lookupClaim(claims, m.tenantClaim, m.tenantPath)
	if !found {
		return Principal{}, fmt.Errorf("%w: claim %q missing", ErrNoTenant, m.tenantClaim)
	}
	s, ok := raw.(string)
	if !ok {
		return Principal{}, fmt.Errorf("%w: claim %q is a %T, not a string", ErrNoTenant, m.tenantClaim, raw)
	}
	tenantID, err := uuid.Parse(s)
	if err != nil {
		return Principal{}, fmt.Errorf("%w: claim %q value %q is not a UUID", ErrNoTenant, m.tenantClaim, s)
	}

	var roles []string
	if parent != nil {
		roles = appendRoles(roles, parent["role"])
		roles = appendRoles(roles, parent["roles"])
	}
	if m.roleClaim != "" {
		if v, _, ok := lookupClaim(claims, m.roleClaim, m.rolePath); ok {
			roles = appendRoles(roles, v)
		}
	}
	roles = appendRoles(roles, claims["role"])
	roles = appendRoles(roles, claims["roles"])

	sessionID, _ := claims["session_id"].(string)
	if sessionID == "" {
		sessionID, _ = claims["sid"].(string)
	}
	aal, _ := claims["aal"].(string)
	if aal == "" {
		aal = defaultAAL
	}
	return Principal{
		TenantID:  tenantID.String(),
		UserID:    userID.String(),
		Roles:     roles,
		SessionID: sessionID,
		AAL:       aal,
	}, nil
}

// lookupClaim finds a configured claim: its name as one top-level key (this also serves namespaced claims
// such as "https://example.com/tenant_id"), else its dotted path. parent is the object holding the claim
// when it is nested, nil at the top level.
func lookupClaim(claims map[string]any, name string, path []string) (v any, parent map[string]any, found bool) {
	if v, ok := claims[name]; ok {
		return v, nil, true
	}
	if len(path) < 2 {
		return nil, nil, false
	}
	cur := claims
	for _, seg := range path[:len(path)-1] {
		next, ok := cur[seg].(map[string]any)
		if !ok {
			return nil, nil, false
		}
		cur = next
	}
	v, ok := cur[path[len(path)-1]]
	return v, cur, ok
}

// appendRoles adds the role or roles in v (a string or an array of strings) that roles lacks.
func appendRoles(roles []string, v any) []string {
	add := func(r string) {
		if r = strings.TrimSpace(r); r != "" && !slices.Contains(roles, r) {
			roles = append(roles, r)
		}
	}
	switch v := v.(type) {
	case string:
		add(v)
	case []any:
		for _, e := range v {
			if s, ok := e.(string); ok {
				add(s)
			}
		}
	case []string:
		for _, s := range v {
			add(s)
		}
	}
	return roles
}

// decodeGatewayClaims rebuilds typed claims from an API Gateway JWT authorizer's map[string]string, where
// nested values arrive stringified: objects as JSON, as {k=v, k2=v2} or as map[k:v k2:v2]; arrays as JSON, as
// [a, b] or as [a b]. Values that look like none of these stay strings.
func decodeGatewayClaims(in map[string]string) map[string]any {
	out := make(map[string]any, len(in))
	for k, v := range in {
		out[k] = decodeStringified(v)
	}
	return out
}

// decodeStringified decodes one stringified claim value; see decodeGatewayClaims.
func decodeStringified(s string) any {
	t := strings.TrimSpace(s)
	switch {
	case strings.HasPrefix(t, "{") && strings.HasSuffix(t, "}"):
		var obj map[string]any
		if err := json.Unmarshal([]byte(t), &obj); err == nil {
			return obj
		}
		if obj, ok := parseKV(t[1:len(t)-1], ',', '='); ok {
			return obj
		}
	case strings.HasPrefix(t, "map[") && strings.HasSuffix(t, "]"):
		if obj, ok := parseKV(t[len("map["):len(t)-1], ' ', ':'); ok {
			return obj
		}
	case strings.HasPrefix(t, "[") && strings.HasSuffix(t, "]"):
		var arr []any
		if err := json.Unmarshal([]byte(t), &arr); err == nil {
			return arr
		}
		inner := t[1 : len(t)-1]
		sep := byte(' ')
		if len(splitTopLevel(inner, ',')) > 1 {
			sep = ','
		}
		arr = []any{}
		for _, item := range splitTopLevel(inner, sep) {
			if item = strings.TrimSpace(item); item != "" {
				arr = append(arr, decodeStringified(item))
			}
		}
		return arr
	}
	return s
}

// parseKV parses the inside of a non-JSON stringified object: items separated by sep at nesting depth 0,
// each split into key and value at the first kv byte. An item without kv continues the previous value (a
// value containing the separator, such as a name with a space); ok is false if the first item has no kv.
func parseKV(inner string, sep, kv byte) (map[string]any, bool) {
	obj := map[string]any{}
	var lastKey string
	var lastVal string
	flush := func() {
		if lastKey != "" {
			obj[lastKey] = decodeStringified(strings.TrimSpace(lastVal))
		}
	}
	for _, item := range splitTopLevel(inner, sep) {
		trimmed := strings.TrimSpace(item)
		if trimmed == "" {
			continue
		}
		i := strings.IndexByte(trimmed, kv)
		if i <= 0 || strings.ContainsAny(trimmed[:i], "[]{} ") {
			if lastKey == "" {
				return nil, false
			}
			lastVal += string(sep) + item
			continue
		}
		flush()
		lastKey, lastVal = trimmed[:i], trimmed[i+1:]
	}
	flush()
	return obj, true
}

// splitTopLevel splits s at sep bytes that are outside brackets and braces.
func splitTopLevel(s string, sep byte) []string {
	var parts []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '[', '{':
			depth++
		case ']', '}':
			if depth > 0 {
				depth--
			}
		case sep:
			if depth == 0 {
				parts = append(parts, s[start:i])
				start = i + 1
			}
		}
	}
	return append(parts, s[start:])
}
