package profile

import (
	"errors"
	"net/http"

	"github.com/rocker-app/corral/shared/httpapi"
)

// MaxBodyBytes bounds a PATCH /me body.
const MaxBodyBytes = 32 << 10

// Me serves GET /me: the caller's profile in its tenant, made on first call, with its personal fields.
func Me(s Store) http.Handler {
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		p, err := httpapi.Caller(r)
		if err != nil {
			return err
		}
		pr, err := s.Me(r.Context(), p)
		if err != nil {
			return storeError(err)
		}
		httpapi.WriteJSON(w, r, http.StatusOK, pr)
		return nil
	})
}

// UpdateMe serves PATCH /me: changes display_name, bio, avatar_url, location, phone, date_of_birth and
// address, and answers like GET /me.
func UpdateMe(s Store) http.Handler {
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		p, err := httpapi.Caller(r)
		if err != nil {
			return err
		}
		patch, err := httpapi.Decode[UpdateRequest](r, MaxBodyBytes)
		if err != nil {
			return err
		}
		pr, err := s.UpdateMe(r.Context(), p, patch)
		if err != nil {
			return storeError(err)
		}
		httpapi.WriteJSON(w, r, http.StatusOK, pr)
		return nil
	})
}

// Get serves GET /profiles/{id}: a member's public profile, by profile id; never the personal fields, even
// to the profile's owner.
func Get(s Store) http.Handler {
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		p, err := httpapi.Caller(r)
		if err != nil {
			return err
		}
		id, err := httpapi.PathID(r, "id")
		if err != nil {
			return err
		}
		pr, err := s.Get(r.Context(), p, id)
		if err != nil {
			return storeError(err)
		}
		httpapi.WriteJSON(w, r, http.StatusOK, pr)
		return nil
	})
}

// storeError maps the Store's errors to API errors; anything else is internal.
func storeError(err error) error {
	if errors.Is(err, ErrNotFound) {
		return httpapi.ErrNotFound
	}
	return httpapi.Internal(err)
}
