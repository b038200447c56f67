package localrun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/google/uuid"

	"github.com/rocker-app/corral/shared/lambdax"
	"github.com/rocker-app/corral/shared/platform"
	"github.com/rocker-app/corral/shared/samtemplate"
	"github.com/rocker-app/corral/shared/sqsx"
)

// Local AWS identity of the events the runner builds.
const (
	localAccount = "123456789012"
	// defaultFunctionTimeout is Lambda's default timeout, for functions whose template sets none.
	defaultFunctionTimeout = 10 * time.Second
)

// Runner delivers what AWS would deliver to the non-HTTP functions of template.yaml: it polls each SQS
// consumer's queue and invokes the consumer with real events.SQSEvent batches, and fires each Schedule
// event on its rate or cron with an EventBridge Scheduled Event.
type Runner struct {
	Template *samtemplate.Template
	// Deps are the shared dependencies; Deps.SQS must talk to the server that holds Queues.
	Deps *platform.Deps
	// SQS and Schedules build the functions (catalog.SQS(), catalog.Schedules()).
	SQS       map[string]platform.SQSFunction
	Schedules map[string]platform.ScheduleFunction
	// Queues are the template's queues on the local server (CreateQueues); nil leaves consumers unpolled.
	Queues map[string]LocalQueue
	// WaitTime is the long-polling wait of each receive (default 5 s; at most 20 s).
	WaitTime time.Duration
	// Now and After are the clock of the schedules (default time.Now and time.After); tests replace them.
	Now   func() time.Time
	After func(time.Duration) <-chan time.Time
}

// Run polls and fires until ctx ends, then waits for the batches and scheduled runs in flight to finish
// (each bounded by its function's timeout) and returns nil. It fails at once, before starting anything,
// when a template function with SQS or Schedule events has no builder, a consumer's queue was not created,
// or a schedule expression does not parse. Failures of single invocations are logged, not returned.
func (r *Runner) Run(ctx context.Context) error {
	var jobs []func(context.Context)
	for _, f := range r.Template.Functions {
		if len(f.SQS) > 0 && r.Queues != nil {
			build, ok := r.SQS[f.Name]
			if !ok {
				return fmt.Errorf("localrun: %s consumes SQS events in template.yaml but has no SQS function in the catalog", f.Name)
			}
			log := r.Deps.Log.With(slog.String("function", f.Name))
			fd := *r.Deps
			fd.Log = log
			h := lambdax.SQS(log, build(&fd))
			for _, ev := range f.SQS {
				q, ok := r.queueByID(ev.Queue)
				if !ok {
					return fmt.Errorf("localrun: %s event %s: queue %s was not created", f.Name, ev.Event, ev.Queue)
				}
				p := &poller{r: r, fn: f, ev: ev, q: q, h: h, log: log}
				jobs = append(jobs, p.run)
			}
		}
		if len(f.Schedules) > 0 {
			build, ok := r.Schedules[f.Name]
			if !ok {
				return fmt.Errorf("localrun: %s has Schedule events in template.yaml but no scheduled function in the catalog", f.Name)
			}
			log := r.Deps.Log.With(slog.String("function", f.Name))
			fd := *r.Deps
			fd.Log = log
			h := lambdax.Schedule(build(&fd))
			for _, ev := range f.Schedules {
				s, err := ParseSchedule(ev.Expression)
				if err != nil {
					return fmt.Errorf("localrun: %s event %s: %w", f.Name, ev.Event, err)
				}
				sc := &scheduler{r: r, fn: f, ev: ev, s: s, h: h, log: log}
				jobs = append(jobs, sc.run)
			}
		}
	}
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Go(func() { j(ctx) })
	}
	wg.Wait()
	return nil
}

func (r *Runner) queueByID(id string) (LocalQueue, bool) {
	for _, q := range r.Queues {
		if q.LogicalID == id {
			return q, true
		}
	}
	return LocalQueue{}, false
}

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Runner) after(d time.Duration) <-chan time.Time {
	if r.After != nil {
		return r.After(d)
	}
	return time.After(d)
}

func functionTimeout(f samtemplate.Function) time.Duration {
	if f.Timeout > 0 {
		return time.Duration(f.Timeout) * time.Second
	}
	return defaultFunctionTimeout
}

// poller is the event source mapping of one SQS event.
type poller struct {
	r   *Runner
	fn  samtemplate.Function
	ev  samtemplate.SQSEvent
	q   LocalQueue
	h   lambdax.SQSFunc
	log *slog.Logger
}

func (p *poller) run(ctx context.Context) {
	wait := p.r.WaitTime
	if wait <= 0 {
		wait = 5 * time.Second
	}
	wait = min(wait, 20*time.Second)
	for ctx.Err() == nil {
		msgs, err := p.receive(ctx, wait)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			p.log.Warn("receive failed; retrying", "queue", p.q.LocalName, "error", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
			continue
		}
		if len(msgs) > 0 {
			p.deliver(ctx, msgs)
		}
	}
}

// receive long-polls for a batch, then tops it up without waiting until BatchSize (SQS returns at most 10
// per call).
func (p *poller) receive(ctx context.Context, wait time.Duration) ([]sqsx.ReceivedMessage, error) {
	var msgs []sqsx.ReceivedMessage
	for len(msgs) < p.ev.BatchSize {
		w := int32(0)
		if len(msgs) == 0 {
			w = int32(wait / time.Second)
		}
		got, err := p.r.Deps.SQS.ReceiveMessage(ctx, sqsx.ReceiveInput{
			QueueURL:                    p.q.URL,
			MaxNumberOfMessages:         int32(min(p.ev.BatchSize-len(msgs), 10)),
			WaitTimeSeconds:             w,
			MessageSystemAttributeNames: []string{"All"},
			MessageAttributeNames:       []string{"All"},
		})
		if err != nil {
			if len(msgs) > 0 && ctx.Err() == nil {
				return msgs, nil
			}
			return nil, err
		}
		msgs = append(msgs, got...)
		if len(got) < 10 {
			break
		}
	}
	return msgs, nil
}

// deliver invokes the consumer with one batch and deletes what succeeded, as Lambda's event source
// mapping does: with ReportBatchItemFailures every message but those reported; without it all or (when the
// invocation fails) none. What is not deleted comes back after the visibility timeout, and after
// maxReceiveCount receives the server moves it to the dead-letter queue.
func (p *poller) deliver(ctx context.Context, msgs []sqsx.ReceivedMessage) {
	ev := sqsx.Event(p.q.ARN, msgs)
	// A batch in flight finishes even when the runner stops, within the function's timeout.
	ictx, cancel := context.WithTimeout(context.WithoutCancel(ctx), functionTimeout(p.fn))
	defer cancel()
	ictx = lambdacontext.NewContext(ictx, &lambdacontext.LambdaContext{AwsRequestID: uuid.NewString()})
	resp, err := p.h(ictx, ev)
	failed := map[string]bool{}
	switch {
	case err != nil:
		for _, m := range msgs {
			failed[m.MessageID] = true
		}
	case p.ev.ReportBatchItemFailures:
		for _, f := range resp.BatchItemFailures {
			failed[f.ItemIdentifier] = true
		}
	}
	var done []sqsx.DeleteEntry
	for i, m := range msgs {
		if !failed[m.MessageID] {
			done = append(done, sqsx.DeleteEntry{ID: strconv.Itoa(i), ReceiptHandle: m.ReceiptHandle})
		}
	}
	for len(done) > 0 {
		n := min(len(done), 10)
		out, derr := p.r.Deps.SQS.DeleteMessageBatch(ictx, p.q.URL, done[:n])
		switch {
		case derr != nil:
			p.log.Error("delete handled messages failed; they will be redelivered", "queue", p.q.LocalName, "error", derr)
		case len(out.Failed) > 0:
			p.log.Error("delete handled messages failed for some; they will be redelivered", "queue", p.q.LocalName, "failed", len(out.Failed))
		}
		done = done[n:]
	}
	attrs := []any{"queue", p.q.LocalName, "messages", len(msgs), "failed", len(failed)}
	if err != nil {
		p.log.Error("sqs batch failed", append(attrs, "error", err)...)
		return
	}
	p.log.Info("sqs batch", attrs...)
}

// scheduler is the EventBridge rule of one Schedule event.
type scheduler struct {
	r   *Runner
	fn  samtemplate.Function
	ev  samtemplate.ScheduleEvent
	s   Schedule
	h   lambdax.ScheduleFunc
	log *slog.Logger
}

// run fires the schedule as EventBridge does: at each firing time, whether or not the previous run has
// finished (runs may overlap, as in AWS; a function that polls for most of its timeout relies on it).
// Firings missed while the machine slept are skipped. When ctx ends, runs in flight are cancelled and
// waited for.
func (sc *scheduler) run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	last := sc.r.now()
	for {
		next := sc.s.Next(last)
		if next.IsZero() {
			sc.log.Info("schedule has no further firings", "event", sc.ev.Event, "schedule", sc.ev.Expression)
			return
		}
		now := sc.r.now()
		if next.Before(now) { // missed (the machine slept): start again from now
			last = now
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-sc.r.after(next.Sub(now)):
		}
		last = next
		wg.Go(func() { sc.invoke(ctx, next) })
	}
}

// invoke runs the function once for the firing at t, within the function's timeout.
func (sc *scheduler) invoke(ctx context.Context, t time.Time) {
	ev := ScheduledEvent(sc.r.Deps.Config.AWSRegion, sc.fn.Name+"-"+sc.ev.Event, t)
	ictx, cancel := context.WithTimeout(ctx, functionTimeout(sc.fn))
	defer cancel()
	ictx = lambdacontext.NewContext(ictx, &lambdacontext.LambdaContext{AwsRequestID: uuid.NewString()})
	if err := sc.h(ictx, ev); err != nil {
		sc.log.Error("scheduled run failed", "event", sc.ev.Event, "schedule", sc.ev.Expression, "error", err)
		return
	}
	sc.log.Info("scheduled run", "event", sc.ev.Event, "schedule", sc.ev.Expression)
}

// ScheduledEvent builds the EventBridge Scheduled Event a rule named rule sends at t.
func ScheduledEvent(region, rule string, t time.Time) events.EventBridgeEvent {
	return events.EventBridgeEvent{
		Version:    "0",
		ID:         uuid.NewString(),
		DetailType: "Scheduled Event",
		Source:     "aws.events",
		AccountID:  localAccount,
		Time:       t.UTC(),
		Region:     region,
		Resources:  []string{"arn:aws:events:" + region + ":" + localAccount + ":rule/" + rule},
		Detail:     json.RawMessage(`{}`),
	}
}

// errNotConsumer and errNotScheduled name a function invoked with the wrong kind of event.
var (
	errNotConsumer  = errors.New("has no SQS event in template.yaml")
	errNotScheduled = errors.New("has no Schedule event in template.yaml")
)
