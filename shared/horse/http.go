package horse

import (
	"errors"
	"net/http"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/rocker-app/corral/shared/auth"
	"github.com/rocker-app/corral/shared/httpapi"
)

// MaxBodyBytes bounds a create or update body.
const MaxBodyBytes = 64 << 10

// List serves GET /horses: a keyset page ordered by created_at then id, newest first, filtered by
// ?owner_user_id=, ?owner_business_id= and ?breed=, projected by ?fields=, continued with ?cursor=.
func List(s Store, cursors *httpapi.Cursors) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := principal(r)
		if err != nil {
			httpapi.WriteError(w, r, err)
			return
		}
		q, err := listQuery(r, cursors)
		if err != nil {
			httpapi.WriteError(w, r, err)
			return
		}
		page, err := s.List(r.Context(), p, q)
		if err != nil {
			httpapi.WriteError(w, r, storeError(err))
			return
		}
		resp := httpapi.ListResponse[map[string]any]{Items: make([]map[string]any, 0, len(page.Horses))}
		for _, h := range page.Horses {
			resp.Items = append(resp.Items, h.Project(q.Fields))
		}
		if page.Next != nil {
			if resp.NextCursor, err = cursors.Encode(page.Next); err != nil {
				httpapi.WriteError(w, r, httpapi.Internal(err))
				return
			}
		}
		httpapi.WriteJSON(w, r, http.StatusOK, resp)
	})
}

func listQuery(r *http.Request, cursors *httpapi.Cursors) (ListQuery, error) {
	page, err := httpapi.ParsePage(r)
	if err != nil {
		return ListQuery{}, err
	}
	fields, err := httpapi.ParseFields(r, Fields())
	if err != nil {
		return ListQuery{}, err
	}
	qs := r.URL.Query()
	q := ListQuery{Breed: qs.Get("breed"), Fields: fields, Limit: page.Limit}
	var problems []httpapi.FieldProblem
	for _, f := range []struct {
		name string
		dst  *string
	}{{"owner_user_id", &q.OwnerUserID}, {"owner_business_id", &q.OwnerBusinessID}} {
		if raw := qs.Get(f.name); raw != "" {
			id, ok := parseID(raw)
			if !ok {
				problems = append(problems, httpapi.FieldProblem{Field: f.name, Reason: "must be a UUID"})
			}
			*f.dst = id
		}
	}
	if utf8.RuneCountInString(q.Breed) > MaxBreedLen {
		problems = append(problems, httpapi.FieldProblem{Field: "breed", Reason: "is too long"})
	}
	if len(problems) > 0 {
		return ListQuery{}, httpapi.Invalid(problems...)
	}
	if page.Cursor != "" {
		var pos Position
		if err := cursors.Decode(page.Cursor, &pos); err != nil {
			return ListQuery{}, err
		}
		if _, ok := parseID(pos.ID); !ok {
			return ListQuery{}, httpapi.Invalid(httpapi.FieldProblem{Field: "cursor", Reason: "is not a cursor this API issued"})
		}
		q.After = &pos
	}
	return q, nil
}

// Get serves GET /horses/{id}.
func Get(s Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, id, err := principalAndID(r)
		if err != nil {
			httpapi.WriteError(w, r, err)
			return
		}
		h, err := s.Get(r.Context(), p, id)
		if err != nil {
			httpapi.WriteError(w, r, storeError(err))
			return
		}
		httpapi.WriteJSON(w, r, http.StatusOK, h)
	})
}

// Create serves POST /horses: 201 with the horse and its Location.
func Create(s Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := principal(r)
		if err != nil {
			httpapi.WriteError(w, r, err)
			return
		}
		in, err := httpapi.Decode[CreateRequest](r, MaxBodyBytes)
		if err != nil {
			httpapi.WriteError(w, r, err)
			return
		}
		if in.Sex == "" {
			in.Sex = "unknown"
		}
		if in.OwnerUserID == nil && in.OwnerBusinessID == nil {
			in.OwnerUserID = &p.UserID
		}
		h, err := s.Create(r.Context(), p, in)
		if err != nil {
			httpapi.WriteError(w, r, storeError(err))
			return
		}
		w.Header().Set("Location", "/horses/"+h.ID)
		httpapi.WriteJSON(w, r, http.StatusCreated, h)
	})
}

// Update serves PATCH /horses/{id}: the creator, or a tenant owner or admin, changes the fields present.
func Update(s Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, id, err := principalAndID(r)
		if err != nil {
			httpapi.WriteError(w, r, err)
			return
		}
		patch, err := httpapi.Decode[UpdateRequest](r, MaxBodyBytes)
		if err != nil {
			httpapi.WriteError(w, r, err)
			return
		}
		h, err := s.Update(r.Context(), p, id, patch)
		if err != nil {
			httpapi.WriteError(w, r, storeError(err))
			return
		}
		httpapi.WriteJSON(w, r, http.StatusOK, h)
	})
}

// Delete serves DELETE /horses/{id}: 204, for the creator or a tenant owner or admin.
func Delete(s Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, id, err := principalAndID(r)
		if err != nil {
			httpapi.WriteError(w, r, err)
			return
		}
		if err := s.Delete(r.Context(), p, id); err != nil {
			httpapi.WriteError(w, r, storeError(err))
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// storeError maps the Store's errors to API errors; anything else is internal.
func storeError(err error) error {
	switch {
	case errors.Is(err, ErrNotFound):
		return httpapi.ErrNotFound
	case errors.Is(err, ErrForbidden):
		return httpapi.Errorf(httpapi.CodeForbidden, "only the horse's creator or a tenant owner or admin may change it")
	case errors.Is(err, ErrOwnerUserNotMember):
		return httpapi.Invalid(httpapi.FieldProblem{Field: "owner_user_id", Reason: "is not a member of this tenant"})
	case errors.Is(err, ErrOwnerBusinessNotFound):
		return httpapi.Invalid(httpapi.FieldProblem{Field: "owner_business_id", Reason: "is not a business of this tenant"})
	default:
		return httpapi.Internal(err)
	}
}

func principal(r *http.Request) (auth.Principal, error) {
	p, ok := auth.FromContext(r.Context())
	if !ok {
		return p, httpapi.Errorf(httpapi.CodeUnauthorized, "authentication required")
	}
	return p, nil
}

// principalAndID returns the caller and the {id} path parameter; an id that is not a UUID names no horse.
func principalAndID(r *http.Request) (auth.Principal, string, error) {
	p, err := principal(r)
	if err != nil {
		return p, "", err
	}
	id, ok := parseID(r.PathValue("id"))
	if !ok {
		return p, "", httpapi.ErrNotFound
	}
	return p, id, nil
}

// parseID returns s in canonical form when it is a UUID in the 36-character form.
func parseID(s string) (string, bool) {
	if len(s) != 36 {
		return "", false
	}
	id, err := uuid.Parse(s)
	if err != nil {
		return "", false
	}
	return id.String(), true
}
