package loadtest

import (
	"encoding/json"
	"errors"
	"net/http"
)

// DevLogin mints tokens locally, e.g. with the development signer that the local runner trusts (the key
// in .local/dev-signing-key.pem, through localrun.DevToken, as `make token` does): no request is sent.
type DevLogin struct {
	Mint func(u *User) (string, error)
}

var _ Login = DevLogin{}

// Step implements Login: no request.
func (DevLogin) Step(*User) (Step, bool) { return Step{}, false }

// Token implements Login: a fresh token for u from Mint, or Mint's error.
func (l DevLogin) Token(u *User, _ []byte) (string, error) { return l.Mint(u) }

// PasswordLogin signs in through the API: POST Path (default /auth/token) with
// {"grant_type":"password","email":...,"password":...}, expecting 200 and {"access_token":"..."}. It needs
// the identity functions and users with that password.
type PasswordLogin struct {
	Path     string
	Password string
}

var _ Login = PasswordLogin{}

// Step implements Login.
func (l PasswordLogin) Step(u *User) (Step, bool) {
	path := l.Path
	if path == "" {
		path = "/auth/token"
	}
	b, _ := json.Marshal(map[string]string{"grant_type": "password", "email": u.Email, "password": l.Password})
	return Step{Route: RouteLogin, Method: http.MethodPost, Path: path, Body: b, Expect: []int{http.StatusOK}, Parse: true}, true
}

// Token implements Login: the access_token of the response; an error when there is none.
func (PasswordLogin) Token(_ *User, body []byte) (string, error) {
	var r struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return "", err
	}
	if r.AccessToken == "" {
		return "", errors.New("loadtest: login response has no access_token")
	}
	return r.AccessToken, nil
}
