package httpapi_test

import (
	"errors"
	"testing"

	"github.com/rocker-app/corral/shared/httpapi"
)

type appender struct {
	out string
	err error
}

func (a appender) AppendJSON(b []byte) ([]byte, error) { return append(b, a.out...), a.err }

// EncodeJSON takes a JSONAppender's bytes as they are, adds the Encoder's newline, and passes its error on.
func TestEncodeJSONUsesAppender(t *testing.T) {
	t.Parallel()
	got, err := httpapi.EncodeJSON(appender{out: `{"a":1}`})
	if err != nil || string(got) != "{\"a\":1}\n" {
		t.Errorf("EncodeJSON(appender) = %q, %v; want the appended bytes and a newline", got, err)
	}
	boom := errors.New("boom")
	if _, err := httpapi.EncodeJSON(appender{err: boom}); !errors.Is(err, boom) {
		t.Errorf("EncodeJSON(failing appender) error %v, want %v", err, boom)
	}
}
