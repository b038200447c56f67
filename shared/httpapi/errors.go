// Package httpapi is the transport toolkit every HTTP function shares: one error type and the one mapping
// from error code to HTTP status, RFC 9457 problem+json responses, JSON decoding with field problems,
// buffered JSON encoding, and opaque keyset cursors.
package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Code classifies an error for the client. Exactly one function, Status, maps a Code to an HTTP status.
type Code string

// The error codes. Their strings are part of the API: problem "type" URIs end with them.
const (
	CodeInvalid              Code = "invalid"                  // malformed or failing validation: 400
	CodeUnauthorized         Code = "unauthorized"             // no or bad credentials: 401
	CodeForbidden            Code = "forbidden"                // authenticated, not allowed: 403
	CodeNotFound             Code = "not-found"                // 404, also for other tenants' rows
	CodeMethodNotAllowed     Code = "method-not-allowed"       // 405
	CodeConflict             Code = "conflict"                 // state conflict, or a duplicate in flight: 409
	CodeTooLarge             Code = "too-large"                // body over the limit: 413
	CodeUnsupportedMedia     Code = "unsupported-media"        // not JSON: 415
	CodeUnprocessable        Code = "unprocessable"            // well-formed but refused, e.g. key reuse: 422
	CodeRateLimited          Code = "rate-limited"             // 429
	CodeUnavailable          Code = "unavailable"              // a dependency is down: 503
	CodeInternal             Code = "internal"                 // everything unexpected: 500
	CodeIdempotencyKeyNeeded Code = "idempotency-key-required" // 400
	CodeMFARequired          Code = "mfa-required"             // signed in, but the route needs aal2 (step up): 403
	CodeCSRFFailed           Code = "csrf-failed"              // cookie-authenticated write without a valid CSRF token or origin: 403
)

// Status maps a code to its HTTP status. Unknown codes are 500.
func Status(c Code) int {
	switch c {
	case CodeInvalid, CodeIdempotencyKeyNeeded:
		return http.StatusBadRequest
	case CodeUnauthorized:
		return http.StatusUnauthorized
	case CodeForbidden, CodeMFARequired, CodeCSRFFailed:
		return http.StatusForbidden
	case CodeNotFound:
		return http.StatusNotFound
	case CodeMethodNotAllowed:
		return http.StatusMethodNotAllowed
	case CodeConflict:
		return http.StatusConflict
	case CodeTooLarge:
		return http.StatusRequestEntityTooLarge
	case CodeUnsupportedMedia:
		return http.StatusUnsupportedMediaType
	case CodeUnprocessable:
		return http.StatusUnprocessableEntity
	case CodeRateLimited:
		return http.StatusTooManyRequests
	case CodeUnavailable:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// FieldProblem names one invalid field of a request, by JSON name, with a reason a person can read.
type FieldProblem struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// Error is the one error type handlers return. Message is shown to the client; Err is the hidden cause,
// logged but never sent. RetryAfter, when set, becomes a Retry-After header.
type Error struct {
	Code       Code
	Message    string
	Fields     []FieldProblem
	RetryAfter time.Duration
	Err        error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with a client-visible message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Internal wraps an unexpected cause: the client sees only "internal error" and the request id.
func Internal(cause error) *Error {
	return &Error{Code: CodeInternal, Message: "internal error", Err: cause}
}

// Invalid returns a 400 error listing the field problems.
func Invalid(fields ...FieldProblem) *Error {
	return &Error{Code: CodeInvalid, Message: "the request has invalid fields", Fields: fields}
}

// ErrNotFound is the shared "no such resource" answer; handlers return it for rows RLS hides too.
var ErrNotFound = &Error{Code: CodeNotFound, Message: "not found"}

// AsError returns err as an *Error, wrapping anything else as internal.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return Internal(err)
}
