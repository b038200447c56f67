// Package reference is the reference chain of the load tests: a minimal server doing only the irreducible
// work of an authenticated read or write on Corral's horse routes, so that the same saturation scenario
// can run against it and against Corral and compare the two. Per request it verifies the bearer JWT
// (ES256, iss, aud, exp; verified tokens cached per token until they expire), makes one Redis rate-limit
// call (GCRA, per tenant and user), and runs one tenant-scoped Postgres transaction: the tenant and user
// settings and the statement, sent together in one round trip (one implicit transaction), as corral_app
// under row-level security. No request ids, logs, idempotency, outbox or problem details.
package reference

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/golang-jwt/jwt/v5"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
)

// Config is what the reference server needs.
type Config struct {
	DB    *pgxpool.Pool // as corral_app
	Redis *redis.Client
	// Key verifies tokens (ES256); Issuer and Audience must match.
	Key              *ecdsa.PublicKey
	Issuer, Audience string
	// Read and Write are the per-user limits of the read and write routes.
	Read, Write redis_rate.Limit
}

// Server serves GET /horses, GET /horses/{id}, POST /horses and PATCH /horses/{id}, and GET /health
// (unauthenticated, for start-up checks).
type Server struct {
	cfg     Config
	limiter *redis_rate.Limiter
	mux     *http.ServeMux
	cache   sync.Map // token -> principal
}

type principal struct {
	tenant, user string
	exp          time.Time
}

// New returns the server; it makes no connection.
func New(cfg Config) *Server {
	s := &Server{cfg: cfg, limiter: redis_rate.NewLimiter(cfg.Redis), mux: http.NewServeMux()}
	s.mux.HandleFunc("GET /horses", s.wrap("horses.read", cfg.Read, s.list))
	s.mux.HandleFunc("GET /horses/{id}", s.wrap("horses.read", cfg.Read, s.get))
	s.mux.HandleFunc("POST /horses", s.wrap("horses.write", cfg.Write, s.create))
	s.mux.HandleFunc("PATCH /horses/{id}", s.wrap("horses.write", cfg.Write, s.update))
	s.mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(`{"status":"ok"}`)) })
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

type handler func(w http.ResponseWriter, r *http.Request, p principal) error

func (s *Server) wrap(policy string, limit redis_rate.Limit, h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, ok := s.authenticate(r)
		if !ok {
			http.Error(w, `{"status":401}`, http.StatusUnauthorized)
			return
		}
		res, err := s.limiter.Allow(r.Context(), "ref:"+policy+":u:"+p.tenant+":"+p.user, limit)
		if err != nil {
			http.Error(w, `{"status":503}`, http.StatusServiceUnavailable)
			return
		}
		if res.Allowed == 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(res.RetryAfter.Seconds())+1))
			http.Error(w, `{"status":429}`, http.StatusTooManyRequests)
			return
		}
		if err := h(w, r, p); err != nil {
			status := http.StatusInternalServerError
			switch {
			case errors.Is(err, pgx.ErrNoRows):
				status = http.StatusNotFound
			case errors.Is(err, errBadRequest):
				status = http.StatusBadRequest
			}
			http.Error(w, fmt.Sprintf(`{"status":%d}`, status), status)
		}
	}
}

func (s *Server) authenticate(r *http.Request) (principal, bool) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" {
		return principal{}, false
	}
	now := time.Now()
	if v, ok := s.cache.Load(tok); ok {
		if p := v.(principal); now.Before(p.exp) {
			return p, true
		}
		s.cache.Delete(tok)
	}
	var c struct {
		jwt.RegisteredClaims
		TenantID string `json:"tenant_id"`
	}
	_, err := jwt.ParseWithClaims(tok, &c, func(*jwt.Token) (any, error) { return s.cfg.Key, nil },
		jwt.WithValidMethods([]string{"ES256"}), jwt.WithIssuer(s.cfg.Issuer), jwt.WithAudience(s.cfg.Audience),
		jwt.WithExpirationRequired(), jwt.WithLeeway(30*time.Second))
	if err != nil || c.Subject == "" || c.TenantID == "" {
		return principal{}, false
	}
	p := principal{tenant: c.TenantID, user: c.Subject, exp: c.ExpiresAt.Time}
	s.cache.Store(tok, p)
	return p, true
}

var errBadRequest = errors.New("bad request")

const setPrincipal = `SELECT set_config('app.tenant_id', $1, true), set_config('app.user_id', $2, true)`

const columns = `id, name, breed, sex, color, birth_year, discipline, description, owner_user_id, owner_business_id, created_by, created_at, updated_at`

type horse struct {
	ID              string    `json:"id"`
	Name            string    `json:"name"`
	Breed           *string   `json:"breed"`
	Sex             string    `json:"sex"`
	Color           *string   `json:"color"`
	BirthYear       *int      `json:"birth_year"`
	Discipline      *string   `json:"discipline"`
	Description     *string   `json:"description"`
	OwnerUserID     *string   `json:"owner_user_id"`
	OwnerBusinessID *string   `json:"owner_business_id"`
	CreatedBy       string    `json:"created_by"`
	CreatedAt       time.Time `json:"created_at"`
	UpdatedAt       time.Time `json:"updated_at"`
}

func (h *horse) dest() []any {
	return []any{&h.ID, &h.Name, &h.Breed, &h.Sex, &h.Color, &h.BirthYear, &h.Discipline, &h.Description,
		&h.OwnerUserID, &h.OwnerBusinessID, &h.CreatedBy, &h.CreatedAt, &h.UpdatedAt}
}

// inTenant sends the principal settings and one statement as one batch: one round trip, one implicit
// transaction. scan reads the statement's rows.
func (s *Server) inTenant(ctx context.Context, p principal, q string, args []any, scan func(pgx.Rows) error) error {
	b := &pgx.Batch{}
	b.Queue(setPrincipal, p.tenant, p.user)
	b.Queue(q, args...)
	br := s.cfg.DB.SendBatch(ctx, b)
	if _, err := br.Exec(); err != nil {
		_ = br.Close()
		return err
	}
	rows, err := br.Query()
	if err != nil {
		_ = br.Close()
		return err
	}
	err = scan(rows)
	rows.Close()
	return errors.Join(err, rows.Err(), br.Close())
}

func one(h *horse) func(pgx.Rows) error {
	return func(rows pgx.Rows) error {
		if !rows.Next() {
			if err := rows.Err(); err != nil {
				return err
			}
			return pgx.ErrNoRows
		}
		return rows.Scan(h.dest()...)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
	return nil
}

func (s *Server) get(w http.ResponseWriter, r *http.Request, p principal) error {
	var h horse
	if err := s.inTenant(r.Context(), p, `SELECT `+columns+` FROM horses WHERE id = $1`, []any{r.PathValue("id")}, one(&h)); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, h)
}

func (s *Server) list(w http.ResponseWriter, r *http.Request, p principal) error {
	limit := 20
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return errBadRequest
		}
		limit = n
	}
	items := make([]horse, 0, limit)
	err := s.inTenant(r.Context(), p, `SELECT `+columns+` FROM horses ORDER BY created_at DESC, id DESC LIMIT $1`, []any{limit},
		func(rows pgx.Rows) error {
			for rows.Next() {
				var h horse
				if err := rows.Scan(h.dest()...); err != nil {
					return err
				}
				items = append(items, h)
			}
			return nil
		})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"items": items})
}

type body struct {
	Name        *string `json:"name"`
	Sex         *string `json:"sex"`
	Breed       *string `json:"breed"`
	Color       *string `json:"color"`
	BirthYear   *int    `json:"birth_year"`
	Discipline  *string `json:"discipline"`
	Description *string `json:"description"`
}

func decode(r *http.Request) (body, error) {
	var b body
	if err := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 64<<10)).Decode(&b); err != nil {
		return b, errBadRequest
	}
	return b, nil
}

func (s *Server) create(w http.ResponseWriter, r *http.Request, p principal) error {
	in, err := decode(r)
	if err != nil || in.Name == nil || *in.Name == "" {
		return errBadRequest
	}
	sex := "unknown"
	if in.Sex != nil {
		sex = *in.Sex
	}
	const q = `
INSERT INTO horses (tenant_id, name, breed, sex, color, birth_year, discipline, description, owner_user_id, created_by)
SELECT $1::uuid, $2, $3, $4, $5, $6, $7, $8, $9::uuid, $9::uuid
WHERE EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = $9::uuid)
RETURNING ` + columns
	var h horse
	args := []any{p.tenant, *in.Name, in.Breed, sex, in.Color, in.BirthYear, in.Discipline, in.Description, p.user}
	if err := s.inTenant(r.Context(), p, q, args, one(&h)); err != nil {
		return err
	}
	w.Header().Set("Location", "/horses/"+h.ID)
	return writeJSON(w, http.StatusCreated, h)
}

func (s *Server) update(w http.ResponseWriter, r *http.Request, p principal) error {
	in, err := decode(r)
	if err != nil {
		return err
	}
	const q = `
UPDATE horses SET name = coalesce($2, name), breed = coalesce($3, breed), sex = coalesce($4, sex),
       color = coalesce($5, color), birth_year = coalesce($6, birth_year), discipline = coalesce($7, discipline),
       description = coalesce($8, description), updated_at = now()
WHERE id = $1 AND created_by = $9::uuid
RETURNING ` + columns
	var h horse
	args := []any{r.PathValue("id"), in.Name, in.Breed, in.Sex, in.Color, in.BirthYear, in.Discipline, in.Description, p.user}
	if err := s.inTenant(r.Context(), p, q, args, one(&h)); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, h)
}
