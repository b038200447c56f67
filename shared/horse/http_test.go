package horse_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rocker-app/corral/shared/auth"
	"github.com/rocker-app/corral/shared/horse"
	"github.com/rocker-app/corral/shared/httpapi"
)

// TestListRejectsBadQueries covers the queries List refuses before it asks the store, so it needs none.
func TestListRejectsBadQueries(t *testing.T) {
	t.Parallel()
	cursors := httpapi.NewCursors(bytes.Repeat([]byte("k"), 32))
	notUUID, err := cursors.Encode(horse.Position{CreatedAt: time.Now(), ID: "not-a-uuid"})
	if err != nil {
		t.Fatal(err)
	}
	cursorProblem := []httpapi.FieldProblem{{Field: "cursor", Reason: "is not a cursor this API issued"}}
	tests := []struct {
		name, query string
		want        []httpapi.FieldProblem
	}{
		{"owners not UUIDs, breed too long", "owner_user_id=me&owner_business_id=" + strings.Repeat("a", 36) + "&breed=" + strings.Repeat("x", horse.MaxBreedLen+1),
			[]httpapi.FieldProblem{
				{Field: "owner_user_id", Reason: "must be a UUID"},
				{Field: "owner_business_id", Reason: "must be a UUID"},
				{Field: "breed", Reason: "is too long"},
			}},
		{"signed cursor whose id is not a UUID", "cursor=" + notUUID, cursorProblem},
		{"forged cursor", "cursor=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", cursorProblem},
	}
	h := horse.List(nil, cursors)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest("GET", "/horses?"+tt.query, nil)
			r = r.WithContext(auth.WithPrincipal(r.Context(), auth.Principal{TenantID: "t", UserID: "u"}))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			if rec.Code != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", rec.Code, rec.Body)
			}
			var p httpapi.Problem
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, p.Errors); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}
