package httpapi

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
)

// Validator is implemented by request bodies that check their own shape. Validate returns the field
// problems found; nil means valid. Checks that need the database belong to the service, not here.
type Validator interface {
	Validate() []FieldProblem
}

// Decode reads a JSON body of at most limit bytes into a T, rejecting unknown fields, trailing data and
// non-JSON content types, then runs T's Validate when it has one. Every failure is an *Error with a 4xx code:
// CodeUnsupportedMedia, CodeTooLarge, or CodeInvalid with field problems.
func Decode[T any](r *http.Request, limit int64) (T, error) {
	var v T
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return v, Errorf(CodeUnsupportedMedia, "the body must be application/json")
		}
	}
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return v, decodeError(err)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		if tooLarge := (*http.MaxBytesError)(nil); errors.As(err, &tooLarge) {
			return v, decodeError(err) // a complete value followed by more bytes than the limit allows
		}
		return v, Errorf(CodeInvalid, "the body must hold a single JSON value")
	}
	if val, ok := any(&v).(Validator); ok {
		if fields := val.Validate(); len(fields) > 0 {
			return v, Invalid(fields...)
		}
	}
	return v, nil
}

func decodeError(err error) error {
	var (
		syntax   *json.SyntaxError
		typeErr  *json.UnmarshalTypeError
		tooLarge *http.MaxBytesError
	)
	switch {
	case errors.As(err, &tooLarge):
		return Errorf(CodeTooLarge, "the body is larger than %d bytes", tooLarge.Limit)
	case errors.Is(err, io.EOF):
		return Errorf(CodeInvalid, "the body is empty; a JSON object is required")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return Errorf(CodeInvalid, "the body is not complete JSON")
	case errors.As(err, &syntax):
		return Errorf(CodeInvalid, "the body is not valid JSON (at byte %d)", syntax.Offset)
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			return Errorf(CodeInvalid, "the body must be a JSON object")
		}
		return Invalid(FieldProblem{Field: field, Reason: "must be " + jsonKind(typeErr.Type.Kind().String())})
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return Invalid(FieldProblem{Field: name, Reason: "is not a known field"})
	default:
		return Errorf(CodeInvalid, "the body could not be read")
	}
}

// jsonKind names, with its article, the JSON kind a Go kind decodes from.
func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "slice", "array":
		return "an array"
	case "struct", "map", "ptr":
		return "an object"
	default:
		return "a number"
	}
}
