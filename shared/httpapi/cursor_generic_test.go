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
	tests := []struct {
		name    string
		cursor  string
		valid   func(position) bool
		want    *position
		wantErr bool // the CodeInvalid *Error naming the cursor
	}{
		{name: "empty is the first page", cursor: "", valid: hasID},
		{name: "position valid accepts", cursor: mustEncode(t, c, samplePosition), valid: hasID, want: &samplePosition},
		{name: "nil valid accepts any", cursor: mustEncode(t, c, position{Name: "no id"}), want: &position{Name: "no id"}},
		{name: "position valid rejects", cursor: mustEncode(t, c, position{Name: "no id"}), valid: hasID, wantErr: true},
		{name: "made with another key", cursor: mustEncode(t, httpapi.NewCursors(otherCursorKey), samplePosition), valid: hasID, wantErr: true},
		{name: "not a cursor", cursor: "!!", valid: hasID, wantErr: true},
		{name: "another type inside", cursor: mustEncode(t, c, []int{1, 2}), valid: hasID, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := httpapi.DecodeCursor(c, tt.cursor, tt.valid)
			if tt.wantErr {
				wantCursorProblem(t, err)
			} else if err != nil {
				t.Fatalf("DecodeCursor: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("position (-want +got):\n%s", diff)
			}
		})
	}
}
