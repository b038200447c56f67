package password

import "testing"

// The dummy hash carries the Hasher's parameters, so VerifyDummy costs what a real Verify does.
func TestDummyHashHasTheHashersParameters(t *testing.T) {
	t.Parallel()
	for _, p := range []Params{DefaultParams, {Memory: 8 * 1024, Time: 3, Threads: 2, SaltLen: 8, KeyLen: 16}} {
		h, err := NewHasher(p)
		if err != nil {
			t.Fatal(err)
		}
		got, _, _, err := decode(h.dummy)
		if err != nil || got != p {
			t.Errorf("dummy hash parameters = %+v (%v), want %+v", got, err, p)
		}
	}
}
