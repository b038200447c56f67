package horse

import (
	"errors"
	"net/http"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/rocker-app/corral/shared/httpapi"
	"github.com/rocker-app/corral/shared/idempotency"
)

// MaxBodyBytes bounds a create or update body.
const MaxBodyBytes = 64 << 10

// List serves GET /horses: a keyset page ordered by created_at then id, newest first, filtered by
// ?owner_user_id=, ?owner_business_id= and ?breed=, projected by ?fields=, continued with ?cursor=.
func List(s Store, cursors *httpapi.Cursors) http.Handler {
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		p, err := httpapi.Caller(r)
		if err != nil {
			return err
		}
		q, err := listQuery(r, cursors)
		if err != nil {
			return err
		}
		page, err := s.List(r.Context(), p, q)
		if err != nil {
			return storeError(err)
		}
		proj := Projection(q.Fields)
		resp := httpapi.ListResponse[httpapi.Projected[Horse]]{Items: make([]httpapi.Projected[Horse], 0, len(page.Horses))}
		for _, h := range page.Horses {
			resp.Items = append(resp.Items, proj.Of(h))
		}
		if page.Next != nil {
			if resp.NextCursor, err = cursors.Encode(page.Next); err != nil {
				return httpapi.Internal(err)
			}
		}
		httpapi.WriteJSON(w, r, http.StatusOK, resp)
		return nil
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
	q := ListQuery{
		OwnerUserID: qs.Get("owner_user_id"), OwnerBusinessID: qs.Get("owner_business_id"), Breed: qs.Get("breed"),
		Fields: fields, Limit: page.Limit,
	}
	var v validation
	if q.OwnerUserID != "" {
		v.uuid("owner_user_id", &q.OwnerUserID)
	}
	if q.OwnerBusinessID != "" {
		v.uuid("owner_business_id", &q.OwnerBusinessID)
	}
	if utf8.RuneCountInString(q.Breed) > MaxBreedLen {
		v.add("breed", "is too long")
	}
	if len(v.problems) > 0 {
		return ListQuery{}, httpapi.Invalid(v.problems...)
	}
	q.After, err = httpapi.DecodeCursor(cursors, page.Cursor, Position.valid)
	return q, err
}

// Get serves GET /horses/{id}.
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
		h, err := s.Get(r.Context(), p, id)
		if err != nil {
			return storeError(err)
		}
		httpapi.WriteJSON(w, r, http.StatusOK, h)
		return nil
	})
}

// Create serves POST /horses: 201 with the horse and its Location.
func Create(s Store) http.Handler {
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		p, err := httpapi.Caller(r)
		if err != nil {
			return err
		}
		in, err := httpapi.Decode[CreateRequest](r, MaxBodyBytes)
		if err != nil {
			return err
		}
		if in.Sex == "" {
			in.Sex = "unknown"
		}
		if in.OwnerUserID == nil && in.OwnerBusinessID == nil {
			in.OwnerUserID = &p.UserID
		}
		// A time-ordered id (UUIDv7): new horses go to the right edge of the primary key's index, not to a
		// random page of it, which after a checkpoint costs a whole page in the WAL.
		id, err := uuid.NewV7()
		if err != nil {
			return err
		}
		in.ID = id.String()
		location := "/horses/" + in.ID
		// The store records this response with the horse, when the request has an Idempotency-Key.
		idempotency.Expect(r.Context(), http.StatusCreated, http.Header{"Content-Type": {"application/json"}, "Location": {location}})
		h, err := s.Create(r.Context(), p, in)
		if err != nil {
			return storeError(err)
		}
		w.Header().Set("Location", location)
		httpapi.WriteJSON(w, r, http.StatusCreated, h)
		return nil
	})
}

// Update serves PATCH /horses/{id}: the creator, or a tenant owner or admin, changes the fields present.
func Update(s Store) http.Handler {
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		p, err := httpapi.Caller(r)
		if err != nil {
			return err
		}
		id, err := httpapi.PathID(r, "id")
		if err != nil {
			return err
		}
		patch, err := httpapi.Decode[UpdateRequest](r, MaxBodyBytes)
		if err != nil {
			return err
		}
		idempotency.Expect(r.Context(), http.StatusOK, http.Header{"Content-Type": {"application/json"}})
		h, err := s.Update(r.Context(), p, id, patch)
		if err != nil {
			return storeError(err)
		}
		httpapi.WriteJSON(w, r, http.StatusOK, h)
		return nil
	})
}

// Delete serves DELETE /horses/{id}: 204, for the creator or a tenant owner or admin.
func Delete(s Store) http.Handler {
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		p, err := httpapi.Caller(r)
		if err != nil {
			return err
		}
		id, err := httpapi.PathID(r, "id")
		if err != nil {
			return err
		}
		idempotency.Expect(r.Context(), http.StatusNoContent, http.Header{})
		if err := s.Delete(r.Context(), p, id); err != nil {
			return storeError(err)
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
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
