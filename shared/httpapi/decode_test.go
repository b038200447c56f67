package httpapi_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rocker-app/corral/shared/httpapi"
)

// horseBody is a request body with nested, array and numeric fields, and its own shape checks.
type horseBody struct {
	Name  string   `json:"name"`
	Age   int      `json:"age"`
	Tags  []string `json:"tags"`
	Owner struct {
		Email string `json:"email"`
	} `json:"owner"`
	Active bool `json:"active"`
}

func (h *horseBody) Validate() []httpapi.FieldProblem {
	var out []httpapi.FieldProblem
	if h.Name == "" {
		out = append(out, httpapi.FieldProblem{Field: "name", Reason: "is required"})
	}
	if h.Age < 0 || h.Age > 60 {
		out = append(out, httpapi.FieldProblem{Field: "age", Reason: "must be from 0 to 60"})
	}
	return out
}

// plainBody has no Validate method.
type plainBody struct {
	Note string `json:"note"`
}

func newJSONRequest(tb testing.TB, contentType, body string) *http.Request {
	tb.Helper()
	r := httptest.NewRequest(http.MethodPost, "/horses", strings.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	return r
}

// asHTTPError fails the test unless err is an *httpapi.Error.
func asHTTPError(tb testing.TB, err error) *httpapi.Error {
	tb.Helper()
	var e *httpapi.Error
	if !errors.As(err, &e) {
		tb.Fatalf("error %v (%T) is not an *httpapi.Error", err, err)
	}
	return e
}

func TestDecode(t *testing.T) {
	t.Parallel()
	const limit = 256
	tests := []struct {
		name        string
		contentType string
		body        string
		want        horseBody // checked when wantCode is ""
		wantCode    httpapi.Code
		wantFields  []httpapi.FieldProblem
		wantMessage string // substring of the message, when set
	}{
		{
			name:        "valid",
			contentType: "application/json",
			body:        `{"name":"Bess","age":7,"tags":["bay"],"owner":{"email":"a@b.c"},"active":true}`,
			want: horseBody{Name: "Bess", Age: 7, Tags: []string{"bay"}, Active: true,
				Owner: struct {
					Email string `json:"email"`
				}{Email: "a@b.c"}},
		},
		{
			name:        "charset parameter",
			contentType: "application/json; charset=utf-8",
			body:        `{"name":"Bess"}`,
			want:        horseBody{Name: "Bess"},
		},
		{
			name:        "structured +json type",
			contentType: "application/merge-patch+json",
			body:        `{"name":"Bess"}`,
			want:        horseBody{Name: "Bess"},
		},
		{name: "no content type", body: `{"name":"Bess"}`, want: horseBody{Name: "Bess"}},
		{name: "trailing whitespace", body: "{\"name\":\"Bess\"}\n\t ", want: horseBody{Name: "Bess"}},
		{
			name:       "unknown field",
			body:       `{"name":"Bess","colour":"bay"}`,
			wantCode:   httpapi.CodeInvalid,
			wantFields: []httpapi.FieldProblem{{Field: "colour", Reason: "is not a known field"}},
		},
		{
			name:       "string where number",
			body:       `{"name":"Bess","age":"old"}`,
			wantCode:   httpapi.CodeInvalid,
			wantFields: []httpapi.FieldProblem{{Field: "age", Reason: "must be a number"}},
		},
		{
			name:       "number where string",
			body:       `{"name":7}`,
			wantCode:   httpapi.CodeInvalid,
			wantFields: []httpapi.FieldProblem{{Field: "name", Reason: "must be a string"}},
		},
		{
			name:       "string where array",
			body:       `{"name":"Bess","tags":"bay"}`,
			wantCode:   httpapi.CodeInvalid,
			wantFields: []httpapi.FieldProblem{{Field: "tags", Reason: "must be an array"}},
		},
		{
			name:       "string where boolean",
			body:       `{"name":"Bess","active":"yes"}`,
			wantCode:   httpapi.CodeInvalid,
			wantFields: []httpapi.FieldProblem{{Field: "active", Reason: "must be a boolean"}},
		},
		{
			name:       "nested field named by its JSON path",
			body:       `{"name":"Bess","owner":{"email":1}}`,
			wantCode:   httpapi.CodeInvalid,
			wantFields: []httpapi.FieldProblem{{Field: "owner.email", Reason: "must be a string"}},
		},
		{
			name:        "array instead of object",
			body:        `[1,2]`,
			wantCode:    httpapi.CodeInvalid,
			wantMessage: "must be a JSON object",
		},
		{
			name:        "trailing value",
			body:        `{"name":"Bess"} {"name":"Kit"}`,
			wantCode:    httpapi.CodeInvalid,
			wantMessage: "single JSON value",
		},
		{
			name:        "trailing garbage",
			body:        `{"name":"Bess"}x`,
			wantCode:    httpapi.CodeInvalid,
			wantMessage: "single JSON value",
		},
		{name: "empty body", body: "", wantCode: httpapi.CodeInvalid, wantMessage: "empty"},
		{name: "truncated", body: `{"name":`, wantCode: httpapi.CodeInvalid, wantMessage: "not complete"},
		{name: "syntax error", body: `{"name" "Bess"}`, wantCode: httpapi.CodeInvalid, wantMessage: "not valid JSON"},
		{
			name:        "over the limit",
			body:        `{"name":"` + strings.Repeat("x", limit) + `"}`,
			wantCode:    httpapi.CodeTooLarge,
			wantMessage: "256 bytes",
		},
		{
			name:     "valid value then padding past the limit",
			body:     `{"name":"Bess"}` + strings.Repeat(" ", limit),
			wantCode: httpapi.CodeTooLarge,
		},
		{name: "text/plain", contentType: "text/plain", body: `{"name":"Bess"}`, wantCode: httpapi.CodeUnsupportedMedia},
		{name: "form", contentType: "application/x-www-form-urlencoded", body: `name=Bess`, wantCode: httpapi.CodeUnsupportedMedia},
		{name: "unparsable content type", contentType: "application/", body: `{"name":"Bess"}`, wantCode: httpapi.CodeUnsupportedMedia},
		{
			name:     "validator problems",
			body:     `{"name":"","age":99}`,
			wantCode: httpapi.CodeInvalid,
			wantFields: []httpapi.FieldProblem{
				{Field: "name", Reason: "is required"},
				{Field: "age", Reason: "must be from 0 to 60"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := httpapi.Decode[horseBody](newJSONRequest(t, tt.contentType, tt.body), limit)
			if tt.wantCode == "" {
				if err != nil {
					t.Fatalf("Decode: %v", err)
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("Decode value (-want +got):\n%s", diff)
				}
				return
			}
			e := asHTTPError(t, err)
			if e.Code != tt.wantCode {
				t.Errorf("code = %q, want %q (error %v)", e.Code, tt.wantCode, err)
			}
			if s := httpapi.Status(e.Code); s < 400 || s > 499 {
				t.Errorf("status %d for a client error, want 4xx", s)
			}
			if diff := cmp.Diff(tt.wantFields, e.Fields); diff != "" {
				t.Errorf("fields (-want +got):\n%s", diff)
			}
			if !strings.Contains(e.Message, tt.wantMessage) {
				t.Errorf("message %q does not contain %q", e.Message, tt.wantMessage)
			}
		})
	}
}

func TestDecodeWithoutValidator(t *testing.T) {
	t.Parallel()
	got, err := httpapi.Decode[plainBody](newJSONRequest(t, "application/json", `{"note":""}`), 64)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if diff := cmp.Diff(plainBody{}, got); diff != "" {
		t.Errorf("Decode (-want +got):\n%s", diff)
	}
}
