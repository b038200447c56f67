package schema

import "testing"

func TestMigrateURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{"postgres://u:p@h:5432/db?sslmode=disable", "pgx5://u:p@h:5432/db?sslmode=disable", false},
		{"postgresql://u@h/db", "pgx5://u@h/db", false},
		{"pgx5://u@h/db", "pgx5://u@h/db", false},
		{"mysql://u@h/db", "", true},
		{"://nope", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := migrateURL(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("migrateURL(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}
