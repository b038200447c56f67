package auth

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestJWKSHandler(t *testing.T) {
	t.Parallel()
	ring, _ := newTestRing(t, "k2", "k1")
	h, err := JWKSHandler(ring)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := ring.JWKS()
	if err != nil {
		t.Fatal(err)
	}
	first := httptest.NewRecorder()
	h.ServeHTTP(first, httptest.NewRequest(http.MethodGet, "/.well-known/jwks.json", nil))
	etag := first.Header().Get("ETag")
	if len(etag) < 10 || etag[0] != '"' {
		t.Fatalf("ETag %q: want a strong quoted tag", etag)
	}

	type response struct {
		Status       int
		CacheControl string
		ETag         string
		ContentType  string
		Body         string
	}
	ok := response{Status: http.StatusOK, CacheControl: "public, max-age=300, stale-while-revalidate=60", ETag: etag,
		ContentType: "application/json", Body: string(doc)}
	notModified := response{Status: http.StatusNotModified, CacheControl: ok.CacheControl, ETag: etag}
	tests := []struct {
		name        string
		method      string
		ifNoneMatch []string
		want        response
	}{
		{"first fetch", http.MethodGet, nil, ok},
		{"revalidation with the current tag", http.MethodGet, []string{etag}, notModified},
		{"weak form of the tag", http.MethodGet, []string{"W/" + etag}, notModified},
		{"tag among others", http.MethodGet, []string{`"old", ` + etag}, notModified},
		{"tag in a second header line", http.MethodGet, []string{`"old"`, etag}, notModified},
		{"any", http.MethodGet, []string{"*"}, notModified},
		{"a stale tag after rotation", http.MethodGet, []string{`"stale"`}, ok},
		{"HEAD", http.MethodHead, nil, response{Status: ok.Status, CacheControl: ok.CacheControl, ETag: etag, ContentType: ok.ContentType}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest(tt.method, "/.well-known/jwks.json", nil)
			for _, v := range tt.ifNoneMatch {
				req.Header.Add("If-None-Match", v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			got := response{Status: rec.Code, CacheControl: rec.Header().Get("Cache-Control"), ETag: rec.Header().Get("ETag"),
				ContentType: rec.Header().Get("Content-Type"), Body: rec.Body.String()}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("response (-want +got):\n%s", diff)
			}
		})
	}

	// Another ring publishes another document under another tag: caches see the rotation.
	other, _ := newTestRing(t, "k3", "k2")
	h2, err := JWKSHandler(other)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/.well-known/jwks.json", nil)
	req.Header.Set("If-None-Match", etag)
	h2.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || rec.Header().Get("ETag") == etag {
		t.Errorf("after rotation: status %d, ETag %q; want 200 with a new tag", rec.Code, rec.Header().Get("ETag"))
	}
	if _, err := JWKSHandler(nil); err == nil {
		t.Error("JWKSHandler(nil) succeeded; want an error")
	}
}
