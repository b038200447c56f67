package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/rocker-app/corral/shared/auth"
	"github.com/rocker-app/corral/shared/business"
)

// BusinessStore keeps businesses and business_members. Row-level security confines every statement to the
// principal's tenant.
type BusinessStore struct {
	db *DB
}

var _ business.Store = (*BusinessStore)(nil)

// NewBusinessStore returns a store on db.
func NewBusinessStore(db *DB) *BusinessStore { return &BusinessStore{db: db} }

// businessColumns is every column of a Business, in the order businessDest reads them.
const businessColumns = `id, name, kind, description, city, website, created_by, created_at, updated_at`

func businessDest(b *business.Business) []any {
	return []any{&b.ID, &b.Name, &b.Kind, &b.Description, &b.City, &b.Website, &b.CreatedBy, &b.CreatedAt, &b.UpdatedAt}
}

// businessColumn maps a field name of business.Fields to its column (a constant of ours) and where to scan it.
func businessColumn(field string, b *business.Business) (string, any, bool) {
	switch field {
	case "id":
		return "id", &b.ID, true
	case "name":
		return "name", &b.Name, true
	case "kind":
		return "kind", &b.Kind, true
	case "description":
		return "description", &b.Description, true
	case "city":
		return "city", &b.City, true
	case "website":
		return "website", &b.Website, true
	case "created_by":
		return "created_by", &b.CreatedBy, true
	case "created_at":
		return "created_at", &b.CreatedAt, true
	case "updated_at":
		return "updated_at", &b.UpdatedAt, true
	}
	return "", nil, false
}

// businessEditor is the condition "the principal may edit business b", with $1 the business id, $2 the
// principal's user id and $3 whether the principal may manage the tenant.
const businessEditor = `(b.created_by = $2 OR $3::bool OR EXISTS (
    SELECT 1 FROM business_members m
    WHERE m.business_id = b.id AND m.user_id = $2 AND m.role IN ('owner', 'manager')))`

// Create implements business.Store: the business and its creator's owner membership, in one transaction.
func (s *BusinessStore) Create(ctx context.Context, p auth.Principal, in business.CreateRequest) (business.Business, error) {
	const (
		insertBusiness = `
INSERT INTO businesses (tenant_id, name, kind, description, city, website, created_by)
VALUES ($1, $2, $3, nullif($4, ''), nullif($5, ''), nullif($6, ''), $7)
RETURNING ` + businessColumns
		insertOwner = `INSERT INTO business_members (tenant_id, business_id, user_id, role) VALUES ($1, $2, $3, 'owner')`
	)
	var b business.Business
	err := s.db.InTx(ctx, p, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, insertBusiness, p.TenantID, in.Name, in.Kind, in.Description, in.City, in.Website, p.UserID).
			Scan(businessDest(&b)...)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, insertOwner, p.TenantID, b.ID, p.UserID)
		return err
	})
	if err != nil {
		return business.Business{}, fmt.Errorf("business store: create: %w", err)
	}
	return b, nil
}

// Get implements business.Store.
func (s *BusinessStore) Get(ctx context.Context, p auth.Principal, id string) (business.Business, error) {
	const q = `SELECT ` + businessColumns + ` FROM businesses WHERE id = $1`
	var b business.Business
	err := s.db.QueryRow(ctx, p, ReadOnly, q, []any{id}, businessDest(&b)...)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return b, business.ErrNotFound
	case err != nil:
		return b, fmt.Errorf("business store: get: %w", err)
	}
	return b, nil
}

// List implements business.Store: one statement, reading q.Limit+1 rows to learn whether a next page exists.
func (s *BusinessStore) List(ctx context.Context, p auth.Principal, q business.ListQuery) (business.Page, error) {
	const (
		byKind = `kind = $?`
		byCity = `lower(city) = lower($?)`
	)
	var w keyset
	if q.Kind != "" {
		w.where(byKind, q.Kind)
	}
	if q.City != "" {
		w.where(byCity, q.City)
	}
	if q.After != nil {
		w.after(q.After.CreatedAt, q.After.ID)
	}
	businesses, more, err := listPage(ctx, s.db, p, &w, "businesses", q.Fields, q.Limit, businessColumn)
	if err != nil {
		return business.Page{}, fmt.Errorf("business store: list: %w", err)
	}
	page := business.Page{Businesses: businesses}
	if more {
		last := businesses[len(businesses)-1]
		page.Next = &business.Position{CreatedAt: last.CreatedAt, ID: last.ID}
	}
	return page, nil
}

// Update implements business.Store: one statement when allowed; a second read explains a refusal.
func (s *BusinessStore) Update(ctx context.Context, p auth.Principal, id string, u business.UpdateRequest) (business.Business, error) {
	const q = `
UPDATE businesses b SET
    name        = coalesce($4, b.name),
    kind        = coalesce($5, b.kind),
    description = CASE WHEN $6::text IS NULL THEN b.description ELSE nullif($6, '') END,
    city        = CASE WHEN $7::text IS NULL THEN b.city ELSE nullif($7, '') END,
    website     = CASE WHEN $8::text IS NULL THEN b.website ELSE nullif($8, '') END
WHERE b.id = $1 AND ` + businessEditor + `
RETURNING ` + businessColumns
	var b business.Business
	args := []any{id, p.UserID, p.CanManageTenant(), u.Name, u.Kind, u.Description, u.City, u.Website}
	err := s.db.QueryRow(ctx, p, ReadWrite, q, args, businessDest(&b)...)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		if err := s.why(ctx, p, id); err != nil {
			return b, err
		}
		return b, business.ErrNotFound // deleted concurrently
	case err != nil:
		return b, fmt.Errorf("business store: update: %w", err)
	}
	return b, nil
}

// Delete implements business.Store. Members go by cascade; horses keep their row and lose the business.
func (s *BusinessStore) Delete(ctx context.Context, p auth.Principal, id string) error {
	const q = `DELETE FROM businesses b WHERE b.id = $1 AND ` + businessEditor + ` RETURNING b.id`
	var deleted string
	err := s.db.QueryRow(ctx, p, ReadWrite, q, []any{id, p.UserID, p.CanManageTenant()}, &deleted)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		if err := s.why(ctx, p, id); err != nil {
			return err
		}
		return business.ErrNotFound
	case err != nil:
		return fmt.Errorf("business store: delete: %w", err)
	}
	return nil
}

// Members implements business.Store. An empty page is told apart from a missing business by a second read.
func (s *BusinessStore) Members(ctx context.Context, p auth.Principal, id string, q business.MemberQuery) (business.MemberPage, error) {
	const list = `
SELECT bm.user_id, bm.role, pr.display_name, bm.created_at
FROM business_members bm
LEFT JOIN profiles pr ON pr.user_id = bm.user_id
WHERE bm.business_id = $1
  AND ($2::timestamptz IS NULL OR (bm.created_at, bm.user_id) < ($2::timestamptz, $3::uuid))
ORDER BY bm.created_at DESC, bm.user_id DESC
LIMIT $4`
	args := []any{id, nil, nil, q.Limit + 1}
	if q.After != nil {
		args[1], args[2] = q.After.CreatedAt, q.After.ID
	}
	var page business.MemberPage
	err := s.db.Query(ctx, p, ReadOnly, list, args, func(rows pgx.Rows) error {
		var m business.Member
		if err := rows.Scan(&m.UserID, &m.Role, &m.DisplayName, &m.CreatedAt); err != nil {
			return err
		}
		page.Members = append(page.Members, m)
		return nil
	})
	if err != nil {
		return business.MemberPage{}, fmt.Errorf("business store: members: %w", err)
	}
	if len(page.Members) == 0 {
		if _, err := s.Get(ctx, p, id); err != nil {
			return business.MemberPage{}, err
		}
	}
	if len(page.Members) > q.Limit {
		page.Members = page.Members[:q.Limit]
		last := page.Members[len(page.Members)-1]
		page.Next = &business.Position{CreatedAt: last.CreatedAt, ID: last.UserID}
	}
	return page, nil
}

// AddMember implements business.Store, in one transaction: the caller's right, the user's tenant
// membership, then the insert.
func (s *BusinessStore) AddMember(ctx context.Context, p auth.Principal, id string, in business.AddMemberRequest) (business.Member, error) {
	const (
		inTenant = `SELECT EXISTS (SELECT 1 FROM memberships WHERE user_id = $1)`
		insert   = `
INSERT INTO business_members AS bm (tenant_id, business_id, user_id, role)
VALUES ($1, $2, $3, $4)
ON CONFLICT (tenant_id, business_id, user_id) DO NOTHING
RETURNING bm.user_id, bm.role, (SELECT pr.display_name FROM profiles pr WHERE pr.user_id = bm.user_id), bm.created_at`
	)
	var m business.Member
	err := s.db.InTx(ctx, p, func(tx pgx.Tx) error {
		allowed, err := s.access(ctx, tx, p, id)
		if err != nil {
			return err
		}
		if !allowed {
			return business.ErrForbidden
		}
		var member bool
		if err := tx.QueryRow(ctx, inTenant, in.UserID).Scan(&member); err != nil {
			return fmt.Errorf("business store: add member: %w", err)
		}
		if !member {
			return business.ErrNotTenantMember
		}
		err = tx.QueryRow(ctx, insert, p.TenantID, id, in.UserID, in.Role).Scan(&m.UserID, &m.Role, &m.DisplayName, &m.CreatedAt)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return business.ErrAlreadyMember
		case err != nil:
			return fmt.Errorf("business store: add member: %w", err)
		}
		return nil
	})
	if err != nil {
		return business.Member{}, err
	}
	return m, nil
}

// RemoveMember implements business.Store, in one transaction: the caller's right (editors, or the member
// themself), then the delete.
func (s *BusinessStore) RemoveMember(ctx context.Context, p auth.Principal, id, userID string) error {
	const remove = `DELETE FROM business_members WHERE business_id = $1 AND user_id = $2 RETURNING user_id`
	return s.db.InTx(ctx, p, func(tx pgx.Tx) error {
		allowed, err := s.access(ctx, tx, p, id)
		if err != nil {
			return err
		}
		if !allowed && userID != p.UserID {
			return business.ErrForbidden
		}
		var removed string
		err = tx.QueryRow(ctx, remove, id, userID).Scan(&removed)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return business.ErrMemberNotFound
		case err != nil:
			return fmt.Errorf("business store: remove member: %w", err)
		}
		return nil
	})
}

// accessSQL answers whether the principal may edit business $1; no row means no such business is visible.
const accessSQL = `SELECT ` + businessEditor + ` FROM businesses b WHERE b.id = $1`

// access reports, inside tx, whether p may edit business id; ErrNotFound when it is not visible.
func (s *BusinessStore) access(ctx context.Context, tx pgx.Tx, p auth.Principal, id string) (bool, error) {
	var allowed bool
	err := tx.QueryRow(ctx, accessSQL, id, p.UserID, p.CanManageTenant()).Scan(&allowed)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return false, business.ErrNotFound
	case err != nil:
		return false, fmt.Errorf("business store: check access: %w", err)
	}
	return allowed, nil
}

// why explains a write that matched no row: ErrNotFound when no such business is visible, ErrForbidden when
// p may not edit it, nil when p may.
func (s *BusinessStore) why(ctx context.Context, p auth.Principal, id string) error {
	var allowed bool
	err := s.db.QueryRow(ctx, p, ReadOnly, accessSQL, []any{id, p.UserID, p.CanManageTenant()}, &allowed)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return business.ErrNotFound
	case err != nil:
		return fmt.Errorf("business store: check access: %w", err)
	case !allowed:
		return business.ErrForbidden
	}
	return nil
}
