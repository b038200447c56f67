package tenant

import (
	"errors"
	"net/http"

	"github.com/rocker-app/corral/shared/httpapi"
	"github.com/rocker-app/corral/shared/middleware"
	"github.com/rocker-app/corral/shared/opaque"
)

// MaxBodyBytes bounds a request body.
const MaxBodyBytes = 16 << 10

// Get serves GET /tenant: the caller's organisation, its member count and the caller's role.
func Get(s Store) http.Handler {
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		p, err := httpapi.Caller(r)
		if err != nil {
			return err
		}
		t, err := s.Get(r.Context(), p)
		if err != nil {
			return storeError(err)
		}
		httpapi.WriteJSON(w, r, http.StatusOK, t)
		return nil
	})
}

// Rename serves PATCH /tenant: a new name (owners and admins). The slug does not change.
func Rename(s Store) http.Handler {
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		a, err := actor(r)
		if err != nil {
			return err
		}
		in, err := httpapi.Decode[RenameRequest](r, MaxBodyBytes)
		if err != nil {
			return err
		}
		t, err := s.Rename(r.Context(), a, in.Name)
		if err != nil {
			return storeError(err)
		}
		httpapi.WriteJSON(w, r, http.StatusOK, t)
		return nil
	})
}

// Members serves GET /tenant/members: a keyset page of members, the most recently joined first, ?limit=
// and ?cursor=.
func Members(s Store, cursors *httpapi.Cursors) http.Handler {
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		p, err := httpapi.Caller(r)
		if err != nil {
			return err
		}
		q, err := pageQuery(r, cursors)
		if err != nil {
			return err
		}
		page, err := s.Members(r.Context(), p, q)
		if err != nil {
			return storeError(err)
		}
		return writePage(w, r, cursors, page.Members, page.Next)
	})
}

// ChangeRole serves PATCH /tenant/members/{user_id}: 200 with the member in their new role.
func ChangeRole(s Store) http.Handler {
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		a, err := actor(r)
		if err != nil {
			return err
		}
		userID, err := httpapi.PathID(r, "user_id")
		if err != nil {
			return err
		}
		in, err := httpapi.Decode[ChangeRoleRequest](r, MaxBodyBytes)
		if err != nil {
			return err
		}
		m, err := s.ChangeRole(r.Context(), a, userID, in.Role)
		if err != nil {
			return storeError(err)
		}
		httpapi.WriteJSON(w, r, http.StatusOK, m)
		return nil
	})
}

// RemoveMember serves DELETE /tenant/members/{user_id}: 204. Owners and admins remove members; anyone
// leaves by naming themself.
func RemoveMember(s Store) http.Handler {
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		a, err := actor(r)
		if err != nil {
			return err
		}
		userID, err := httpapi.PathID(r, "user_id")
		if err != nil {
			return err
		}
		if err := s.RemoveMember(r.Context(), a, userID); err != nil {
			return storeError(err)
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

// CreateInvite serves POST /tenant/invites: 201 with the invite and its code, which no later response
// shows again (only its SHA-256 digest is stored). An email in the request is stored only as its blind
// index under index. The response is not cacheable, and the route must not keep responses for replay (no
// Idempotency-Key): a stored response would hold the code.
func CreateInvite(s Store, index EmailIndex) http.Handler {
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		a, err := actor(r)
		if err != nil {
			return err
		}
		in, err := httpapi.Decode[InviteRequest](r, MaxBodyBytes)
		if err != nil {
			return err
		}
		code, hash := opaque.New(InviteCodePrefix)
		n := NewInvite{Role: in.Role, CodeHash: hash, TTL: in.TTL()}
		if in.Email != nil {
			n.EmailIndex = index.Index(*in.Email)
		}
		inv, err := s.CreateInvite(r.Context(), a, n)
		if err != nil {
			return storeError(err)
		}
		w.Header().Set("Location", "/tenant/invites/"+inv.ID)
		w.Header().Set("Cache-Control", "no-store")
		httpapi.WriteJSON(w, r, http.StatusCreated, CreatedInvite{Invite: inv, Code: code})
		return nil
	})
}

// Invites serves GET /tenant/invites: a keyset page of pending invites (neither accepted, revoked nor
// expired), newest first, without their codes.
func Invites(s Store, cursors *httpapi.Cursors) http.Handler {
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		p, err := httpapi.Caller(r)
		if err != nil {
			return err
		}
		q, err := pageQuery(r, cursors)
		if err != nil {
			return err
		}
		page, err := s.Invites(r.Context(), p, q)
		if err != nil {
			return storeError(err)
		}
		return writePage(w, r, cursors, page.Invites, page.Next)
	})
}

// RevokeInvite serves DELETE /tenant/invites/{id}: 204; the code no longer admits anyone.
func RevokeInvite(s Store) http.Handler {
	return httpapi.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		a, err := actor(r)
		if err != nil {
			return err
		}
		id, err := httpapi.PathID(r, "id")
		if err != nil {
			return err
		}
		if err := s.RevokeInvite(r.Context(), a, id); err != nil {
			return storeError(err)
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

// InviteCodePrefix starts every invite code (opaque.New), so a code is recognisable where it is pasted or
// leaked. Signup finds an invite by opaque.Hash of the whole code.
const InviteCodePrefix = "inv_"

// actor returns the authenticated caller with the request's origin, for the audit log.
func actor(r *http.Request) (Actor, error) {
	p, err := httpapi.Caller(r)
	if err != nil {
		return Actor{}, err
	}
	return Actor{Principal: p, IP: middleware.ClientIP(r), Route: r.Pattern, RequestID: httpapi.RequestID(r.Context())}, nil
}

func pageQuery(r *http.Request, cursors *httpapi.Cursors) (PageQuery, error) {
	page, err := httpapi.ParsePage(r)
	if err != nil {
		return PageQuery{}, err
	}
	q := PageQuery{Limit: page.Limit}
	q.After, err = httpapi.DecodeCursor(cursors, page.Cursor, Position.valid)
	return q, err
}

// writePage writes a listing's page: its items (an empty array, never null) and the cursor after next.
func writePage[T any](w http.ResponseWriter, r *http.Request, cursors *httpapi.Cursors, items []T, next *Position) error {
	resp := httpapi.ListResponse[T]{Items: items}
	if resp.Items == nil {
		resp.Items = []T{}
	}
	if next != nil {
		c, err := cursors.Encode(next)
		if err != nil {
			return httpapi.Internal(err)
		}
		resp.NextCursor = c
	}
	httpapi.WriteJSON(w, r, http.StatusOK, resp)
	return nil
}

// storeError maps the Store's errors to API errors; anything else is internal.
func storeError(err error) error {
	switch {
	case errors.Is(err, ErrNotMember):
		return httpapi.Errorf(httpapi.CodeForbidden, "you are no longer a member of this organisation")
	case errors.Is(err, ErrForbidden):
		return httpapi.Errorf(httpapi.CodeForbidden, "only the organisation's owners and admins may do this")
	case errors.Is(err, ErrOwnerOnly):
		return httpapi.Errorf(httpapi.CodeForbidden, "only an owner may make someone an owner, or change or remove an owner")
	case errors.Is(err, ErrMemberNotFound), errors.Is(err, ErrInviteNotFound):
		return httpapi.ErrNotFound
	case errors.Is(err, ErrLastOwner):
		return httpapi.Errorf(httpapi.CodeConflict, "the organisation's last owner cannot leave, be removed or be demoted: make another member an owner first")
	case errors.Is(err, ErrInviteAccepted):
		return httpapi.Errorf(httpapi.CodeConflict, "the invite was already accepted; remove the member instead")
	default:
		return httpapi.Internal(err)
	}
}
