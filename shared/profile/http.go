package profile

import (
	"errors"
	"net/http"

	"github.com/google/uuid"

	"github.com/rocker-app/corral/shared/auth"
	"github.com/rocker-app/corral/shared/httpapi"
)

// MaxBodyBytes bounds a PATCH /me body.
const MaxBodyBytes = 32 << 10

// Me serves GET /me: the caller's profile in its tenant, made on first call.
func Me(s Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := principal(r)
		if err != nil {
			httpapi.WriteError(w, r, err)
			return
		}
		pr, err := s.Me(r.Context(), p)
		if err != nil {
			httpapi.WriteError(w, r, storeError(err))
			return
		}
		httpapi.WriteJSON(w, r, http.StatusOK, pr)
	})
}

// UpdateMe serves PATCH /me: changes display_name, bio, avatar_url and location.
func UpdateMe(s Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := principal(r)
		if err != nil {
			httpapi.WriteError(w, r, err)
			return
		}
		patch, err := httpapi.Decode[UpdateRequest](r, MaxBodyBytes)
		if err != nil {
			httpapi.WriteError(w, r, err)
			return
		}
		pr, err := s.UpdateMe(r.Context(), p, patch)
		if err != nil {
			httpapi.WriteError(w, r, storeError(err))
			return
		}
		httpapi.WriteJSON(w, r, http.StatusOK, pr)
	})
}

// Get serves GET /profiles/{id}: another member's public profile, by profile id.
func Get(s Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := principal(r)
		if err != nil {
			httpapi.WriteError(w, r, err)
			return
		}
		raw := r.PathValue("id")
		id, err := uuid.Parse(raw)
		if err != nil || len(raw) != 36 {
			httpapi.WriteError(w, r, httpapi.ErrNotFound)
			return
		}
		pr, err := s.Get(r.Context(), p, id.String())
		if err != nil {
			httpapi.WriteError(w, r, storeError(err))
			return
		}
		httpapi.WriteJSON(w, r, http.StatusOK, pr)
	})
}

// storeError maps the Store's errors to API errors; anything else is internal.
func storeError(err error) error {
	if errors.Is(err, ErrNotFound) {
		return httpapi.ErrNotFound
	}
	return httpapi.Internal(err)
}

func principal(r *http.Request) (auth.Principal, error) {
	p, ok := auth.FromContext(r.Context())
	if !ok {
		return p, httpapi.Errorf(httpapi.CodeUnauthorized, "authentication required")
	}
	return p, nil
}
