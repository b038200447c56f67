package business_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rocker-app/corral/shared/auth"
	"github.com/rocker-app/corral/shared/business"
	"github.com/rocker-app/corral/shared/httpapi"
)

// TestListingsRejectBadCursors covers the cursors List and Members refuse before they ask the store, so
// they need none.
func TestListingsRejectBadCursors(t *testing.T) {
	t.Parallel()
	cursors := httpapi.NewCursors(bytes.Repeat([]byte("k"), 32))
	notUUID, err := cursors.Encode(business.Position{CreatedAt: time.Now(), ID: "not-a-uuid"})
	if err != nil {
		t.Fatal(err)
	}
	handlers := []struct {
		name string
		h    http.Handler
	}{
		{"list", business.List(nil, cursors)},
		{"members", business.Members(nil, cursors)},
	}
	cursorsToTry := []struct{ name, cursor string }{
		{"signed, id not a UUID", notUUID},
		{"forged", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
	}
	want := []httpapi.FieldProblem{{Field: "cursor", Reason: "is not a cursor this API issued"}}
	for _, h := range handlers {
		for _, c := range cursorsToTry {
			t.Run(h.name+"/"+c.name, func(t *testing.T) {
				t.Parallel()
				r := httptest.NewRequest("GET", "/?cursor="+c.cursor, nil)
				r.SetPathValue("id", "0b8e9c5e-3f4a-4d2b-9a51-7d1c2f0e6a11")
				r = r.WithContext(auth.WithPrincipal(r.Context(), auth.Principal{TenantID: "t", UserID: "u"}))
				rec := httptest.NewRecorder()
				h.h.ServeHTTP(rec, r)
				if rec.Code != http.StatusBadRequest {
					t.Fatalf("status %d, want 400: %s", rec.Code, rec.Body)
				}
				var p httpapi.Problem
				if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(want, p.Errors); diff != "" {
					t.Errorf("problems (-want +got):\n%s", diff)
				}
			})
		}
	}
}
