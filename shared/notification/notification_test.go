package notification_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/rocker-app/corral/shared/notification"
)

func TestCreateValidate(t *testing.T) {
	t.Parallel()
	user := uuid.NewString()
	valid := notification.Create{UserID: user, Kind: "horse.transferred", Title: "Sunny is yours", Body: "Done.", Data: json.RawMessage(`{"horse_id":"h1"}`)}
	with := func(edit func(*notification.Create)) notification.Create {
		c := valid
		edit(&c)
		return c
	}
	tests := []struct {
		name    string
		c       notification.Create
		mention string // a word the error must contain; "" for valid
	}{
		{"valid", valid, ""},
		{"no body, no data", with(func(c *notification.Create) { c.Body, c.Data = "", nil }), ""},
		{"user not a UUID", with(func(c *notification.Create) { c.UserID = "bob" }), "user_id"},
		{"blank kind", with(func(c *notification.Create) { c.Kind = "  " }), "kind"},
		{"long kind", with(func(c *notification.Create) { c.Kind = strings.Repeat("k", 101) }), "kind"},
		{"no title", with(func(c *notification.Create) { c.Title = "" }), "title"},
		{"title of 200 runes is fine", with(func(c *notification.Create) { c.Title = strings.Repeat("é", 200) }), ""},
		{"long title", with(func(c *notification.Create) { c.Title = strings.Repeat("é", 201) }), "title"},
		{"long body", with(func(c *notification.Create) { c.Body = strings.Repeat("b", 5001) }), "body"},
		{"data not an object", with(func(c *notification.Create) { c.Data = json.RawMessage(`[1]`) }), "data"},
		{"data null", with(func(c *notification.Create) { c.Data = json.RawMessage(`null`) }), "data"},
		{"data too large", with(func(c *notification.Create) {
			c.Data = json.RawMessage(`{"x":"` + strings.Repeat("x", 16<<10) + `"}`)
		}), "data"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.c.Validate()
			if tc.mention == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, notification.ErrInvalid) || !strings.Contains(err.Error(), tc.mention) {
				t.Fatalf("Validate = %v, want ErrInvalid naming %s", err, tc.mention)
			}
		})
	}
}
