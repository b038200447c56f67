package httpapi_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rocker-app/corral/shared/httpapi"
)

func TestDecodeCursor(t *testing.T) {
	t.Parallel()
	c := httpapi.NewCursors(cursorKey)
	hasID := func(p position) bool { return p.ID != "" }

	t.Run("empty is the first page", func(t *testing.T) {
		t.Parallel()
		got, err := httpapi.DecodeCursor(c, "", hasID)
		if err != nil || got != nil {
			t.Fatalf("DecodeCursor(\"\") = %v, %v; want nil, nil", got, err)
		}
	})

	accepted := []struct {
		name  string
		valid func(position) bool
	}{
		{"valid position", hasID},
		{"nil valid accepts any", nil},
	}
	for _, tt := range accepted {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := httpapi.DecodeCursor(c, mustEncode(t, c, samplePosition), tt.valid)
			if err != nil {
				t.Fatalf("DecodeCursor: %v", err)
			}
			if diff := cmp.Diff(&samplePosition, got); diff != "" {
				t.Errorf("position (-want +got):\n%s", diff)
			}
		})
	}

	rejected := []struct {
		name   string
		cursor string
	}{
		{"position valid rejects", mustEncode(t, c, position{Name: "no id"})},
		{"made with another key", mustEncode(t, httpapi.NewCursors(otherCursorKey), samplePosition)},
		{"not a cursor", "!!"},
		{"another type inside", mustEncode(t, c, []int{1, 2})},
	}
	for _, tt := range rejected {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := httpapi.DecodeCursor(c, tt.cursor, hasID)
			if got != nil {
				t.Errorf("DecodeCursor returned position %+v with its error", got)
			}
			wantCursorProblem(t, err)
		})
	}
}
