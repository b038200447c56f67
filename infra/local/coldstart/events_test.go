package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/rocker-app/corral/shared/ratelimit"
)

// Every start's event and every warm event gets a source address that counts as a client of its own
// under the per-IP limits, so no start is refused for what earlier ones spent.
func TestEventsHaveSourcesOfTheirOwn(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "get.json")
	ev := `{"routeKey":"GET /things","rawPath":"/things","headers":{"x":"y"},"requestContext":{"http":{"method":"GET","path":"/things","sourceIp":"127.0.0.1"}}}`
	if err := os.WriteFile(path, []byte(ev), 0o644); err != nil {
		t.Fatal(err)
	}
	ips := append(sourceIPs(7, 0, 21), sourceIPs(7, 21, 100)...)
	seen := map[string]bool{}
	for _, ip := range ips {
		n := ratelimit.ClientNetwork(ip, ratelimit.IPv6ClientPrefix)
		if seen[n] {
			t.Fatalf("%s counts as %s, as an earlier address did", ip, n)
		}
		seen[n] = true
	}
	if a, b := sourceIPs(7, 0, 1)[0], sourceIPs(8, 0, 1)[0]; a == b {
		t.Errorf("two runs' salts give the same first address %s", a)
	}

	out, err := withTokens(path, []string{"t1", "t1", "t2"}, ips[:3])
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 3 {
		t.Fatalf("%d events, want 3", len(out))
	}
	for i, want := range []string{"t1", "t1", "t2"} {
		var got struct {
			Headers        map[string]string `json:"headers"`
			RequestContext struct {
				HTTP struct {
					SourceIP string `json:"sourceIp"`
				} `json:"http"`
			} `json:"requestContext"`
		}
		if err := json.Unmarshal(out[i], &got); err != nil {
			t.Fatal(err)
		}
		if got.Headers["authorization"] != "Bearer "+want || got.Headers["x"] != "y" || got.RequestContext.HTTP.SourceIP != ips[i] {
			t.Errorf("event %d: headers %v, source %q; want token %s and source %s", i, got.Headers, got.RequestContext.HTTP.SourceIP, want, ips[i])
		}
	}

	// A non-HTTP event comes back once, as it is.
	if err := os.WriteFile(path, []byte(`{"detail-type":"Scheduled Event"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := withTokens(path, []string{"t1"}, ips[:1]); err != nil || len(out) != 1 || string(out[0]) != `{"detail-type":"Scheduled Event"}` {
		t.Errorf("scheduled event: %q, %v", out, err)
	}
}
