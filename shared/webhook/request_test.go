package webhook_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rocker-app/corral/shared/webhook"
)

func TestCreateRequestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		in     webhook.CreateRequest
		fields []string
		types  []string
	}{
		{"valid, duplicates dropped", webhook.CreateRequest{URL: "https://x.example/h", EventTypes: []string{"horse.created", "horse.created", "*"}}, nil, []string{"horse.created", "*"}},
		{"no url", webhook.CreateRequest{EventTypes: []string{"horse.created"}}, []string{"url"}, nil},
		{"url too long", webhook.CreateRequest{URL: "https://x.example/" + strings.Repeat("a", 2048), EventTypes: []string{"a.b"}}, []string{"url"}, nil},
		{"no event types", webhook.CreateRequest{URL: "https://x.example/h"}, []string{"event_types"}, nil},
		{"bad event type", webhook.CreateRequest{URL: "https://x.example/h", EventTypes: []string{"Horse Created"}}, []string{"event_types"}, nil},
		{"single word type", webhook.CreateRequest{URL: "https://x.example/h", EventTypes: []string{"horse"}}, []string{"event_types"}, nil},
		{"long description", webhook.CreateRequest{URL: "https://x.example/h", Description: strings.Repeat("é", 501), EventTypes: []string{"a.b"}}, []string{"description"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in
			var fields []string
			for _, p := range in.Validate() {
				fields = append(fields, p.Field)
			}
			if diff := cmp.Diff(tt.fields, fields); diff != "" {
				t.Errorf("problem fields (-want +got):\n%s", diff)
			}
			if tt.types != nil {
				if diff := cmp.Diff(tt.types, in.EventTypes); diff != "" {
					t.Errorf("event types (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestEventValidate(t *testing.T) {
	t.Parallel()
	ok := webhook.Event{ID: "0b7a4c8e-51ad-4b8f-9a0e-3f6f4c1d2e3a", TenantID: "5f0c1b9e-2f0a-4d8c-9a64-0c1b7f1e6a21", Type: "horse.created", Payload: []byte(`{"id":1}`)}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid event: %v", err)
	}
	for name, mutate := range map[string]func(*webhook.Event){
		"bad id":      func(e *webhook.Event) { e.ID = "1" },
		"bad tenant":  func(e *webhook.Event) { e.TenantID = "" },
		"star type":   func(e *webhook.Event) { e.Type = "*" },
		"not JSON":    func(e *webhook.Event) { e.Payload = []byte("{") },
		"upper type":  func(e *webhook.Event) { e.Type = "Horse.Created" },
		"empty bytes": func(e *webhook.Event) { e.Payload = nil },
	} {
		e := ok
		mutate(&e)
		if e.Validate() == nil {
			t.Errorf("%s: Validate() = nil", name)
		}
	}
}

func TestDecodeJob(t *testing.T) {
	t.Parallel()
	j := webhook.Job{DeliveryID: "0b7a4c8e-51ad-4b8f-9a0e-3f6f4c1d2e3a", TenantID: "5f0c1b9e-2f0a-4d8c-9a64-0c1b7f1e6a21", Attempt: 3}
	got, err := webhook.DecodeJob(j.Body())
	if err != nil || got != j {
		t.Fatalf("DecodeJob(Body()) = %+v, %v; want %+v", got, err, j)
	}
	next := j
	next.Attempt++
	if j.MessageID() == next.MessageID() || j.MessageID() != (webhook.Job{DeliveryID: j.DeliveryID, Attempt: 3}).MessageID() {
		t.Error("MessageID is not one stable id per delivery and attempt")
	}
	for _, body := range []string{`x`, `{}`, `{"delivery_id":"x","tenant_id":"5f0c1b9e-2f0a-4d8c-9a64-0c1b7f1e6a21","attempt":1}`,
		`{"delivery_id":"0b7a4c8e-51ad-4b8f-9a0e-3f6f4c1d2e3a","tenant_id":"5f0c1b9e-2f0a-4d8c-9a64-0c1b7f1e6a21","attempt":0}`} {
		if _, err := webhook.DecodeJob([]byte(body)); err == nil {
			t.Errorf("DecodeJob(%s): err = nil", body)
		}
	}
}
