package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rocker-app/corral/shared/auth"
	"github.com/rocker-app/corral/shared/outbox"
	"github.com/rocker-app/corral/shared/sqsx"
)

// Consumer is the name the Worker records processed jobs under (sqsx.Once's consumer).
const Consumer = "jobs-worker"

// ErrUnknownKind is wrapped (inside sqsx.Permanent) by Handle's error for a job kind nobody registered.
var ErrUnknownKind = errors.New("jobs: unknown kind")

// Worker handles the messages of the jobs queue. It is safe for concurrent use.
type Worker struct {
	db  outbox.TxRunner
	reg *Registry
	log *slog.Logger
}

// NewWorker returns a worker that runs the jobs of reg through db (a *postgres.DB of the application
// role).
func NewWorker(db outbox.TxRunner, reg *Registry, log *slog.Logger) *Worker {
	return &Worker{db: db, reg: reg, log: log}
}

// Handle runs the job in d, the sqsx.Consumer handler of the jobs queue. It returns nil when the job ran
// (or had already run: a redelivery is recognised by the job's id and skipped), sqsx.Permanent(err) for a
// message that can never run (a body that is not an envelope, no id, a tenant id that is not a UUID, an
// unknown kind wrapping ErrUnknownKind, a payload that does not decode or validate), the handler's own
// error otherwise, and a database error, wrapped, when the transaction fails. On any error the job's
// effects and its dedupe record are rolled back together, so a retry runs it afresh.
func (w *Worker) Handle(ctx context.Context, d sqsx.Delivery) error {
	var env outbox.Envelope
	if err := json.Unmarshal(d.Body, &env); err != nil {
		return sqsx.Permanent(fmt.Errorf("jobs: message %s is not a job envelope: %w", d.ID, err))
	}
	if env.ID == "" {
		env.ID = d.ID
	}
	if env.ID == "" {
		return sqsx.Permanent(errors.New("jobs: message has no job id"))
	}
	if env.TenantID != "" {
		if _, err := uuid.Parse(env.TenantID); err != nil {
			return sqsx.Permanent(fmt.Errorf("jobs: job %s: tenant id %q is not a UUID", env.ID, env.TenantID))
		}
	}
	e, ok := w.reg.kinds[env.Kind]
	if !ok {
		return sqsx.Permanent(fmt.Errorf("%w %q (job %s)", ErrUnknownKind, env.Kind, env.ID))
	}
	run, err := e.prepare(env.Payload)
	if err != nil {
		return sqsx.Permanent(fmt.Errorf("jobs: job %s: %w", env.ID, err))
	}
	log := w.log.With(slog.String("job_id", env.ID), slog.String("kind", env.Kind), slog.String("tenant_id", env.TenantID))
	return w.db.InTx(ctx, auth.Principal{TenantID: env.TenantID}, func(tx pgx.Tx) error {
		first, err := sqsx.Once(ctx, tx, Consumer, env.ID)
		if err != nil {
			return fmt.Errorf("jobs: job %s: dedupe: %w", env.ID, err)
		}
		if !first {
			log.LogAttrs(ctx, slog.LevelInfo, "job already done; redelivery skipped", slog.Int("receive_count", d.ReceiveCount))
			return nil
		}
		return run(ctx, JobContext{
			ID: env.ID, Kind: env.Kind, TenantID: env.TenantID, Tx: tx,
			ReceiveCount: d.ReceiveCount, EnqueuedAt: env.CreatedAt, Log: log,
		})
	})
}
