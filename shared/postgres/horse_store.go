package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rocker-app/corral/shared/auth"
	"github.com/rocker-app/corral/shared/horse"
	"github.com/rocker-app/corral/shared/httpapi"
	"github.com/rocker-app/corral/shared/outbox"
)

// HorseStore keeps horses in the horses table. Row-level security confines every statement to the
// principal's tenant.
type HorseStore struct {
	db     *DB
	events EventPublisher
}

// EventPublisher publishes committed outbox entries at once (best effort); *outbox.Outbox implements it.
// Entries it does not publish go out with the next outbox-relay run. PublishNow reads the entries by id;
// Publish sends what the writer holds (see outbox.Outbox.Publish).
type EventPublisher interface {
	PublishNow(ctx context.Context, tenantID string, ids ...string) (int, error)
	Publish(ctx context.Context, entries ...outbox.Committed) (int, error)
}

// HorseCreatedEvent is the event type written to the outbox when a horse is created; the webhook
// dispatcher fans it out to the tenant's endpoints subscribed to it.
const HorseCreatedEvent = "horse.created"

var _ horse.Store = (*HorseStore)(nil)

// NewHorseStore returns a store on db.
func NewHorseStore(db *DB) *HorseStore { return &HorseStore{db: db} }

// WithEvents returns the store publishing its events through p right after each commit.
func (s *HorseStore) WithEvents(p EventPublisher) *HorseStore {
	c := *s
	c.events = p
	return &c
}

// horseColumns is every column of a Horse, in the order horseDest reads them.
const horseColumns = `id, name, breed, sex, color, birth_year, discipline, description, owner_user_id, owner_business_id, created_by, created_at, updated_at`

// horseDest is where a row of horseColumns goes: one rowInto over h's fields.
func horseDest(h *horse.Horse) []any {
	return []any{rowInto{&h.ID, &h.Name, &h.Breed, &h.Sex, &h.Color, &h.BirthYear, &h.Discipline, &h.Description,
		&h.OwnerUserID, &h.OwnerBusinessID, &h.CreatedBy, &h.CreatedAt, &h.UpdatedAt}}
}

// horseColumn maps a field name of horse.Fields to its column (a constant of ours) and where to scan it.
func horseColumn(field string, h *horse.Horse) (string, any, bool) {
	switch field {
	case "id":
		return "id", &h.ID, true
	case "name":
		return "name", &h.Name, true
	case "breed":
		return "breed", &h.Breed, true
	case "sex":
		return "sex", &h.Sex, true
	case "color":
		return "color", &h.Color, true
	case "birth_year":
		return "birth_year", &h.BirthYear, true
	case "discipline":
		return "discipline", &h.Discipline, true
	case "description":
		return "description", &h.Description, true
	case "owner_user_id":
		return "owner_user_id", &h.OwnerUserID, true
	case "owner_business_id":
		return "owner_business_id", &h.OwnerBusinessID, true
	case "created_by":
		return "created_by", &h.CreatedBy, true
	case "created_at":
		return "created_at", &h.CreatedAt, true
	case "updated_at":
		return "updated_at", &h.UpdatedAt, true
	}
	return "", nil, false
}

// createWrite inserts a horse and its horse.created outbox entry in one statement, so they commit together
// (transactional outbox) in one round trip; its recording variant also stores the request's idempotency
// record (see Create). It inserts only when owner_user_id is a member of the tenant (memberships is itself
// under row-level security); the composite foreign key keeps owner_business_id in the tenant. The horse
// is known whole before the write (Create chooses its id and timestamps), so its JSON is encoded once, in
// Go, and sent as $17: the event's payload and the recorded response body. The statement renders nothing.
// The event is written only when an endpoint of the tenant subscribes to it (webhookSubscribed): the
// webhooks queue has no other reader, and an event nobody receives would cost every write an outbox row,
// a message and a dispatcher run. It returns the id and whether the event was written.
var createWrite = NewRecordedWrite(`h AS (
    INSERT INTO horses (id, tenant_id, name, breed, sex, color, birth_year, discipline, description,
                        owner_user_id, owner_business_id, created_by, created_at, updated_at)
    SELECT $15::uuid, $1::uuid, $2::text, $3::text, $4::text, $5::text, $6::int, $7::text, $8::text,
           $9::uuid, $10::uuid, $11::uuid, $16::timestamptz, $16::timestamptz
    WHERE $9::uuid IS NULL OR EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = $9::uuid)
    RETURNING id
), o AS (
    INSERT INTO outbox (id, tenant_id, queue, kind, payload)
    SELECT $12::uuid, $1::uuid, $13, $14::text, convert_from($17::bytea, 'UTF8')::jsonb FROM h
    WHERE `+webhookSubscribed("$1::uuid", "$14::text")+`
    RETURNING id
)`, `SELECT h.id, EXISTS (SELECT 1 FROM o) FROM h`, "h", `$17::bytea`, 17)

// horseJSONBody is the SQL expression of the response body httpapi.WriteJSON writes for the horse of the
// row h: row_to_json over the columns in horse.Horse's field order, with the timestamps as encoding/json
// writes them (TestHorseRecordedResponse checks the bytes). Update renders its body with it: only the
// statement knows the updated row.
var horseJSONBody = EncoderJSON(`(SELECT row_to_json(j)::text FROM (SELECT h.id, h.name, h.breed, h.sex, h.color,
    h.birth_year, h.discipline, h.description, h.owner_user_id, h.owner_business_id, h.created_by,
    ` + createdAtJSON + ` AS created_at, ` + updatedAtJSON + ` AS updated_at) j)`)

// createdAtJSON and updatedAtJSON are the JSON strings encoding/json writes for the row's timestamps read
// as UTC time.Time values (RFC 3339, the fraction's trailing zeros and a bare dot dropped, Z), as json
// values for row_to_json to embed: Postgres writes a timestamp in JSON the same way, without the Z. One
// output function instead of two to_char calls and two trims per timestamp.
const (
	createdAtJSON = `(rtrim(to_json(h.created_at AT TIME ZONE 'UTC')::text, '"') || 'Z"')::json`
	updatedAtJSON = `(rtrim(to_json(h.updated_at AT TIME ZONE 'UTC')::text, '"') || 'Z"')::json`
)

// Create implements horse.Store. The horse and its horse.created event are one statement (createWrite).
// The store builds the horse before the write, as the row will be: in.ID (or a new id), empty optional
// texts as null, owners' ids in canonical form, created_by the caller, created_at and updated_at now (this
// process's clock, in microseconds, as Postgres keeps them); TestHorseCreateReturnsStoredRow keeps the two
// equal. When the request has an idempotency lease whose handler declared its response
// (idempotency.Expect: 201 and the horse's Location, as horse.Create does), the statement also stores the
// finished idempotency record with the horse's JSON as its body, so that record is written once, with the
// horse; otherwise it carries the pending lease, if any (see DB.QueryRow). One round trip either way. The
// relay publishes the event, if it was written (see createWrite), unless the store was made WithEvents:
// then it is published from memory after the commit (outbox.Outbox.Publish; what that does not publish
// stays for the relay).
func (s *HorseStore) Create(ctx context.Context, p auth.Principal, in horse.CreateRequest) (horse.Horse, error) {
	h, err := newHorse(p, in, time.Now())
	if err != nil {
		return horse.Horse{}, fmt.Errorf("horse store: create: %w", err)
	}
	body, err := httpapi.EncodeJSON(h)
	if err != nil {
		return horse.Horse{}, fmt.Errorf("horse store: create: %w", err)
	}
	event, err := uuid.NewV7() // time-ordered, as the outbox's primary key prefers (see horse.Create)
	if err != nil {
		return horse.Horse{}, fmt.Errorf("horse store: create: %w", err)
	}
	eventID := event.String()
	args := []any{p.TenantID, h.Name, h.Breed, h.Sex, h.Color, h.BirthYear, h.Discipline, h.Description,
		h.OwnerUserID, h.OwnerBusinessID, h.CreatedBy, eventID, horseEventsQueue, HorseCreatedEvent, h.ID, h.CreatedAt, body}
	var (
		id      string
		written bool
	)
	err = s.db.QueryRowRecorded(ctx, p, createWrite, args, &id, &written)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return horse.Horse{}, horse.ErrOwnerUserNotMember
	case isForeignKeyViolation(err):
		return horse.Horse{}, horse.ErrOwnerBusinessNotFound
	case err != nil:
		return horse.Horse{}, fmt.Errorf("horse store: create: %w", err)
	}
	if s.events != nil && written {
		// Best effort: the relay sends what this does not.
		_, _ = s.events.Publish(ctx, outbox.Committed{ID: eventID, Queue: horseEventsQueue, Kind: HorseCreatedEvent,
			TenantID: p.TenantID, Payload: bytes.TrimSuffix(body, []byte("\n")), CreatedAt: h.CreatedAt})
	}
	return h, nil
}

// newHorse is the horse Create inserts for in, as Postgres will keep it and return it.
func newHorse(p auth.Principal, in horse.CreateRequest, now time.Time) (horse.Horse, error) {
	now = now.UTC().Truncate(time.Microsecond)
	h := horse.Horse{ID: in.ID, Name: in.Name, Sex: in.Sex, BirthYear: in.BirthYear, CreatedAt: now, UpdatedAt: now,
		Breed: nonEmpty(in.Breed), Color: nonEmpty(in.Color), Discipline: nonEmpty(in.Discipline), Description: nonEmpty(in.Description)}
	if h.ID == "" {
		id, err := uuid.NewV7()
		if err != nil {
			return h, err
		}
		h.ID = id.String()
	}
	var err error
	if h.ID, err = canonicalUUID("id", h.ID); err != nil {
		return h, err
	}
	if h.CreatedBy, err = canonicalUUID("created_by", p.UserID); err != nil {
		return h, err
	}
	if h.OwnerUserID, err = canonicalOptionalUUID("owner_user_id", in.OwnerUserID); err != nil {
		return h, err
	}
	h.OwnerBusinessID, err = canonicalOptionalUUID("owner_business_id", in.OwnerBusinessID)
	return h, err
}

// canonicalOptionalUUID is canonicalUUID for an optional id: nil stays nil.
func canonicalOptionalUUID(field string, s *string) (*string, error) {
	if s == nil {
		return nil, nil
	}
	id, err := canonicalUUID(field, *s)
	if err != nil {
		return nil, err
	}
	return &id, nil
}

// nonEmpty is s, or nil when s is empty: an optional text set to "" is stored as null.
func nonEmpty(s *string) *string {
	if s == nil || *s == "" {
		return nil
	}
	return s
}

// canonicalUUID is s in the form Postgres writes a uuid (lower case, hyphenated).
func canonicalUUID(field, s string) (string, error) {
	id, err := uuid.Parse(s)
	if err != nil {
		return "", fmt.Errorf("%s %q: %w", field, s, err)
	}
	return id.String(), nil
}

// horseEventsQueue is the queue of horse events (the webhook dispatcher fans them out).
const horseEventsQueue = "webhooks"

// Get implements horse.Store.
func (s *HorseStore) Get(ctx context.Context, p auth.Principal, id string) (horse.Horse, error) {
	const q = `SELECT ` + horseColumns + ` FROM horses WHERE id = $1`
	var h horse.Horse
	err := s.db.QueryRow(ctx, p, ReadOnly, q, []any{id}, horseDest(&h)...)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return h, horse.ErrNotFound
	case err != nil:
		return h, fmt.Errorf("horse store: get: %w", err)
	}
	return h, nil
}

// List implements horse.Store: one statement, reading q.Limit+1 rows to learn whether a next page exists.
func (s *HorseStore) List(ctx context.Context, p auth.Principal, q horse.ListQuery) (horse.Page, error) {
	const (
		byOwnerUser     = `owner_user_id = $?`
		byOwnerBusiness = `owner_business_id = $?`
		byBreed         = `lower(breed) = lower($?)`
	)
	var w keyset
	if q.OwnerUserID != "" {
		w.where(byOwnerUser, q.OwnerUserID)
	}
	if q.OwnerBusinessID != "" {
		w.where(byOwnerBusiness, q.OwnerBusinessID)
	}
	if q.Breed != "" {
		w.where(byBreed, q.Breed)
	}
	if q.After != nil {
		w.after(q.After.CreatedAt, q.After.ID)
	}
	horses, more, err := listPage(ctx, s.db, p, &w, "horses", q.Fields, q.Limit, horseColumn)
	if err != nil {
		return horse.Page{}, fmt.Errorf("horse store: list: %w", err)
	}
	page := horse.Page{Horses: horses}
	if more {
		last := horses[len(horses)-1]
		page.Next = &horse.Position{CreatedAt: last.CreatedAt, ID: last.ID}
	}
	return page, nil
}

// updateSQL changes the fields present; the update and the permission check are one statement. %s is
// where the owner check goes (see updateWrite).
const updateSQL = `h AS (
    UPDATE horses SET
        name              = coalesce($4, name),
        breed             = CASE WHEN $5::text IS NULL THEN breed ELSE nullif($5, '') END,
        sex               = coalesce($6, sex),
        color             = CASE WHEN $7::text IS NULL THEN color ELSE nullif($7, '') END,
        birth_year        = coalesce($8, birth_year),
        discipline        = CASE WHEN $9::text IS NULL THEN discipline ELSE nullif($9, '') END,
        description       = CASE WHEN $10::text IS NULL THEN description ELSE nullif($10, '') END,
        owner_user_id     = CASE WHEN $11::text IS NULL THEN owner_user_id ELSE nullif($11, '')::uuid END,
        owner_business_id = CASE WHEN $12::text IS NULL THEN owner_business_id ELSE nullif($12, '')::uuid END
    WHERE id = $1 AND (created_by = $2 OR $3::bool)%s
    RETURNING ` + horseColumns + `
)`

// updateWrite is the update for a request that leaves the owning user as it is; updateOwnerWrite for one
// that sets it, which also checks that the new owner is a member of the tenant. Two statements rather
// than one with "$11 IS NULL OR EXISTS (...)": Postgres's generic plan of that one initialises the
// membership scan for every update, most of which change no owner (~12 us of its executor start, perf
// over saturation PATCH). Their recording variants also store the request's idempotency record, with the
// horse's JSON as its body.
var (
	updateWrite      = NewRecordedWrite(fmt.Sprintf(updateSQL, ""), `SELECT h.* FROM h`, "h", horseJSONBody, 12)
	updateOwnerWrite = NewRecordedWrite(fmt.Sprintf(updateSQL, `
      AND (nullif($11, '') IS NULL OR EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = nullif($11, '')::uuid))`),
		`SELECT h.* FROM h`, "h", horseJSONBody, 12)
)

// Update implements horse.Store: one statement (updateWrite or updateOwnerWrite), which stores the
// request's finished idempotency record when its handler declared the response (200, as horse.Update
// does), as Create does. Only when it changes nothing does a second read tell a missing horse from a
// forbidden one.
func (s *HorseStore) Update(ctx context.Context, p auth.Principal, id string, u horse.UpdateRequest) (horse.Horse, error) {
	var h horse.Horse
	args := []any{id, p.UserID, p.CanManageTenant(), u.Name, u.Breed, u.Sex, u.Color, u.BirthYear, u.Discipline,
		u.Description, u.OwnerUserID, u.OwnerBusinessID}
	st := updateWrite
	if u.OwnerUserID != nil {
		st = updateOwnerWrite
	}
	err := s.db.QueryRowRecorded(ctx, p, st, args, horseDest(&h)...)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		if err := s.why(ctx, p, id); err != nil {
			return h, err
		}
		return h, horse.ErrOwnerUserNotMember
	case isForeignKeyViolation(err):
		return h, horse.ErrOwnerBusinessNotFound
	case err != nil:
		return h, fmt.Errorf("horse store: update: %w", err)
	}
	return h, nil
}

// deleteWrite deletes a horse its caller may change; its recording variant also stores the request's
// idempotency record, with an empty body (204).
var deleteWrite = NewRecordedWrite(`h AS (
    DELETE FROM horses WHERE id = $1 AND (created_by = $2 OR $3::bool) RETURNING id
)`, `SELECT h.id FROM h`, "h", `'\x'::bytea`, 3)

// Delete implements horse.Store: one statement (deleteWrite), which stores the request's finished
// idempotency record when its handler declared the response (204, as horse.Delete does).
func (s *HorseStore) Delete(ctx context.Context, p auth.Principal, id string) error {
	var deleted string
	err := s.db.QueryRowRecorded(ctx, p, deleteWrite, []any{id, p.UserID, p.CanManageTenant()}, &deleted)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		if err := s.why(ctx, p, id); err != nil {
			return err
		}
		return horse.ErrNotFound // deleted concurrently
	case err != nil:
		return fmt.Errorf("horse store: delete: %w", err)
	}
	return nil
}

// why explains a write that matched no row: ErrNotFound when no such horse is visible, ErrForbidden when p
// may not change it, nil when p may.
func (s *HorseStore) why(ctx context.Context, p auth.Principal, id string) error {
	const q = `SELECT created_by = $2 OR $3::bool FROM horses WHERE id = $1`
	var allowed bool
	err := s.db.QueryRow(ctx, p, ReadOnly, q, []any{id, p.UserID, p.CanManageTenant()}, &allowed)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return horse.ErrNotFound
	case err != nil:
		return fmt.Errorf("horse store: check access: %w", err)
	case !allowed:
		return horse.ErrForbidden
	}
	return nil
}

// isForeignKeyViolation reports whether err is SQLSTATE 23503.
func isForeignKeyViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23503"
}
