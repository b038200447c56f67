package business

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/rocker-app/corral/shared/httpapi"
)

// MaxBodyBytes bounds a request body.
const MaxBodyBytes = 64 << 10

// List serves GET /businesses: a keyset page ordered by created_at then id, newest first, filtered by
// ?kind= and ?city=, projected by ?fields=, continued with ?cursor=.
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
		resp := httpapi.ListResponse[httpapi.Projected[Business]]{Items: make([]httpapi.Projected[Business], 0, len(page.Businesses))}
		for _, b := range page.Businesses {
			resp.Items = append(resp.Items, proj.Of(b))
		}
		if resp.NextCursor, err = encodeNext(cursors, page.Next); err != nil {
			return err
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
	q := ListQuery{Kind: qs.Get("kind"), City: qs.Get("city"), Fields: fields, Limit: page.Limit}
	var problems []httpapi.FieldProblem
	if q.Kind != "" && !slices.Contains(Kinds(), q.Kind) {
		problems = append(problems, httpapi.FieldProblem{Field: "kind", Reason: "must be one of " + strings.Join(Kinds(), ", ")})
	}
	if utf8.RuneCountInString(q.City) > MaxCityLen {
		problems = append(problems, httpapi.FieldProblem{Field: "city", Reason: "is too long"})
	}
	if len(problems) > 0 {
		return ListQuery{}, httpapi.Invalid(problems...)
	}
	q.After, err = httpapi.DecodeCursor(cursors, page.Cursor, Position.valid)
	return q, err
}

// Get serves GET /businesses/{id}.
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
		b, err := s.Get(r.Context(), p, id)
		if err != nil {
			return storeError(err)
		}
		httpapi.WriteJSON(w, r, http.StatusOK, b)
		return nil
	})
}

// Create serves POST /businesses: 201 with the business and its Location; the caller becomes its owner.
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
		b, err := s.Create(r.Context(), p, in)
		if err != nil {
			return storeError(err)
		}
		w.Header().Set("Location", "/businesses/"+b.ID)
		httpapi.WriteJSON(w, r, http.StatusCreated, b)
		return nil
	})
}

// Update serves PATCH /businesses/{id}.
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
		b, err := s.Update(r.Context(), p, id, patch)
		if err != nil {
			return storeError(err)
		}
		httpapi.WriteJSON(w, r, http.StatusOK, b)
		return nil
	})
}

// Delete serves DELETE /businesses/{id}: 204. Its members go with it; its horses lose their owner business.
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
		if err := s.Delete(r.Context(), p, id); err != nil {
			return storeError(err)
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

// Members serves GET /businesses/{id}/members: a keyset page of members, newest first, ?limit= and ?cursor=.
func Members(s Store, cursors *httpapi.Cursors) http.Handler {
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		p, err := httpapi.Caller(r)
		if err != nil {
			return err
		}
		id, err := httpapi.PathID(r, "id")
		if err != nil {
			return err
		}
		page, err := httpapi.ParsePage(r)
		if err != nil {
			return err
		}
		q := MemberQuery{Limit: page.Limit}
		if q.After, err = httpapi.DecodeCursor(cursors, page.Cursor, Position.valid); err != nil {
			return err
		}
		mp, err := s.Members(r.Context(), p, id, q)
		if err != nil {
			return storeError(err)
		}
		resp := httpapi.ListResponse[Member]{Items: mp.Members}
		if resp.Items == nil {
			resp.Items = []Member{}
		}
		if resp.NextCursor, err = encodeNext(cursors, mp.Next); err != nil {
			return err
		}
		httpapi.WriteJSON(w, r, http.StatusOK, resp)
		return nil
	})
}

// AddMember serves POST /businesses/{id}/members: 201 with the member. The user must belong to the tenant;
// a user who is already a member is a conflict (409).
func AddMember(s Store) http.Handler {
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		p, err := httpapi.Caller(r)
		if err != nil {
			return err
		}
		id, err := httpapi.PathID(r, "id")
		if err != nil {
			return err
		}
		in, err := httpapi.Decode[AddMemberRequest](r, MaxBodyBytes)
		if err != nil {
			return err
		}
		m, err := s.AddMember(r.Context(), p, id, in)
		if err != nil {
			return storeError(err)
		}
		w.Header().Set("Location", "/businesses/"+id+"/members/"+m.UserID)
		httpapi.WriteJSON(w, r, http.StatusCreated, m)
		return nil
	})
}

// RemoveMember serves DELETE /businesses/{id}/members/{user_id}: 204. Editors remove anyone; members may
// remove themselves.
func RemoveMember(s Store) http.Handler {
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		p, err := httpapi.Caller(r)
		if err != nil {
			return err
		}
		id, err := httpapi.PathID(r, "id")
		if err != nil {
			return err
		}
		userID, err := httpapi.PathID(r, "user_id")
		if err != nil {
			return err
		}
		if err := s.RemoveMember(r.Context(), p, id, userID); err != nil {
			return storeError(err)
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

// storeError maps the Store's errors to API errors; anything else is internal.
func storeError(err error) error {
	switch {
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrMemberNotFound):
		return httpapi.ErrNotFound
	case errors.Is(err, ErrForbidden):
		return httpapi.Errorf(httpapi.CodeForbidden, "only the business's creator, its owners and managers, or a tenant owner or admin may change it")
	case errors.Is(err, ErrNotTenantMember):
		return httpapi.Invalid(httpapi.FieldProblem{Field: "user_id", Reason: "is not a member of this tenant"})
	case errors.Is(err, ErrAlreadyMember):
		return httpapi.Errorf(httpapi.CodeConflict, "the user is already a member of this business")
	default:
		return httpapi.Internal(err)
	}
}

// encodeNext returns the cursor of a listing's next page, "" on the last page (next is nil).
func encodeNext(cursors *httpapi.Cursors, next *Position) (string, error) {
	if next == nil {
		return "", nil
	}
	s, err := cursors.Encode(next)
	if err != nil {
		return "", httpapi.Internal(err)
	}
	return s, nil
}
