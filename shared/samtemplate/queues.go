package samtemplate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// Queue is one AWS::SQS::Queue resource.
type Queue struct {
	LogicalID string // e.g. JobsDeadLetterQueue
	// Name is the queue's name in Corral: the logical id minus its "Queue" suffix, hyphenated lower case
	// (JobsQueue -> jobs, JobsDeadLetterQueue -> jobs-dead-letter). Functions get its URL as EnvVar().
	Name string
	// QueueName is the template's QueueName, "" when CloudFormation names the queue.
	QueueName string
	// VisibilityTimeout in seconds; 0 when the template leaves SQS's default (30 s).
	VisibilityTimeout int
	// MessageRetention in seconds (MessageRetentionPeriod); 0 when the template leaves SQS's default.
	MessageRetention int
	// DeadLetter is the logical id of the RedrivePolicy's deadLetterTargetArn queue, "" without one.
	DeadLetter string
	// MaxReceiveCount is the RedrivePolicy's maxReceiveCount: receives before SQS moves a message to
	// DeadLetter.
	MaxReceiveCount int
}

// EnvVar is the variable that carries the queue's URL to functions: QUEUE_URL_ and Name in upper case
// with underscores (QUEUE_URL_JOBS, QUEUE_URL_JOBS_DEAD_LETTER).
func (q Queue) EnvVar() string {
	return "QUEUE_URL_" + strings.ToUpper(strings.ReplaceAll(q.Name, "-", "_"))
}

// SQSEvent is one SQS event source of a function.
type SQSEvent struct {
	Event string // the event's name in the template
	Queue string // the logical id of the queue (the event's Queue: !GetAtt <Queue>.Arn)
	// BatchSize is the most messages per invocation (the template's BatchSize; SQS's default 10 when absent).
	BatchSize int
	// ReportBatchItemFailures is true when FunctionResponseTypes holds ReportBatchItemFailures: the
	// function reports failed messages and only those are retried.
	ReportBatchItemFailures bool
}

// ScheduleEvent is one Schedule event of a function.
type ScheduleEvent struct {
	Event      string // the event's name in the template
	Expression string // rate(...) or cron(...), as in the template
}

// QueueByID returns the queue with that logical id.
func (t *Template) QueueByID(id string) (Queue, bool) {
	for _, q := range t.Queues {
		if q.LogicalID == id {
			return q, true
		}
	}
	return Queue{}, false
}

// getAttMarker is what Fn::GetAtt becomes while parsing: goformation cannot resolve it (it yields nil,
// which then vanishes), so Load substitutes this string form, the short form the template is written in.
const getAttMarker = "!GetAtt "

// getAtt renders a Fn::GetAtt argument, either "Resource.Attribute" (the short form) or
// ["Resource", "Attribute"] (the long form), as "!GetAtt Resource.Attribute".
func getAtt(_ string, input any, _ any) any {
	switch v := input.(type) {
	case string:
		return getAttMarker + v
	case []any:
		parts := make([]string, 0, len(v))
		for _, p := range v {
			s, ok := p.(string)
			if !ok {
				return nil
			}
			parts = append(parts, s)
		}
		return getAttMarker + strings.Join(parts, ".")
	}
	return nil
}

// getAttTarget returns the logical id of a "!GetAtt Resource.Arn" value.
func getAttTarget(v string) (string, bool) {
	rest, ok := strings.CutPrefix(v, getAttMarker)
	if !ok {
		return "", false
	}
	id, attr, ok := strings.Cut(rest, ".")
	return id, ok && attr == "Arn" && id != ""
}

// flexInt decodes a number written either as a number or as a string of digits (YAML templates use both).
type flexInt int

func (n *flexInt) UnmarshalJSON(b []byte) error {
	s := string(bytes.Trim(b, `"`))
	if s == "null" || s == "" {
		return nil
	}
	i, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("%s is not an integer", b)
	}
	*n = flexInt(i)
	return nil
}

type rawTemplate struct {
	Resources map[string]struct {
		Type       string          `json:"Type"`
		Properties json.RawMessage `json:"Properties"`
	} `json:"Resources"`
}

type rawQueue struct {
	QueueName              any     `json:"QueueName"`
	VisibilityTimeout      flexInt `json:"VisibilityTimeout"`
	MessageRetentionPeriod flexInt `json:"MessageRetentionPeriod"`
	RedrivePolicy          *struct {
		DeadLetterTargetArn any     `json:"deadLetterTargetArn"`
		MaxReceiveCount     flexInt `json:"maxReceiveCount"`
	} `json:"RedrivePolicy"`
}

type rawFunctionEvents struct {
	Events map[string]struct {
		Type       string          `json:"Type"`
		Properties json.RawMessage `json:"Properties"`
	} `json:"Events"`
}

type rawSQSEvent struct {
	Queue                 any      `json:"Queue"`
	BatchSize             flexInt  `json:"BatchSize"`
	FunctionResponseTypes []string `json:"FunctionResponseTypes"`
}

type rawScheduleEvent struct {
	Schedule any `json:"Schedule"`
}

// readQueuesAndEvents fills t.Queues and each function's SQS and Schedule events from the processed
// (intrinsics resolved) JSON form of the template. It fails on an event or queue it cannot represent: a
// queue event whose Queue is not !GetAtt of a queue of this template, a redrive policy without a target.
func readQueuesAndEvents(t *Template, processed []byte) error {
	var raw rawTemplate
	if err := json.Unmarshal(processed, &raw); err != nil {
		return err
	}
	for id, r := range raw.Resources {
		if r.Type != "AWS::SQS::Queue" {
			continue
		}
		q := Queue{LogicalID: id, Name: QueueNameOf(id)}
		if len(r.Properties) > 0 {
			var p rawQueue
			if err := json.Unmarshal(r.Properties, &p); err != nil {
				return fmt.Errorf("%s: %w", id, err)
			}
			if s, ok := p.QueueName.(string); ok {
				q.QueueName = s
			}
			q.VisibilityTimeout, q.MessageRetention = int(p.VisibilityTimeout), int(p.MessageRetentionPeriod)
			if p.RedrivePolicy != nil {
				s, _ := p.RedrivePolicy.DeadLetterTargetArn.(string)
				dlq, ok := getAttTarget(s)
				if !ok {
					return fmt.Errorf("%s: RedrivePolicy.deadLetterTargetArn must be !GetAtt <Queue>.Arn of a queue in this template", id)
				}
				q.DeadLetter, q.MaxReceiveCount = dlq, int(p.RedrivePolicy.MaxReceiveCount)
			}
		}
		t.Queues = append(t.Queues, q)
	}
	sort.Slice(t.Queues, func(i, j int) bool { return t.Queues[i].Name < t.Queues[j].Name })
	for _, q := range t.Queues {
		if q.DeadLetter != "" {
			if _, ok := t.QueueByID(q.DeadLetter); !ok {
				return fmt.Errorf("%s: dead-letter queue %s is not a queue of this template", q.LogicalID, q.DeadLetter)
			}
		}
	}

	for i := range t.Functions {
		f := &t.Functions[i]
		var p rawFunctionEvents
		if props := raw.Resources[f.LogicalID].Properties; len(props) > 0 {
			if err := json.Unmarshal(props, &p); err != nil {
				return fmt.Errorf("%s: %w", f.LogicalID, err)
			}
		}
		for name, ev := range p.Events {
			switch ev.Type {
			case "SQS":
				var e rawSQSEvent
				if err := json.Unmarshal(ev.Properties, &e); err != nil {
					return fmt.Errorf("%s event %s: %w", f.LogicalID, name, err)
				}
				s, _ := e.Queue.(string)
				id, ok := getAttTarget(s)
				if _, known := t.QueueByID(id); !ok || !known {
					return fmt.Errorf("%s event %s: Queue must be !GetAtt <Queue>.Arn of a queue in this template", f.LogicalID, name)
				}
				se := SQSEvent{Event: name, Queue: id, BatchSize: int(e.BatchSize)}
				if se.BatchSize == 0 {
					se.BatchSize = 10
				}
				for _, rt := range e.FunctionResponseTypes {
					se.ReportBatchItemFailures = se.ReportBatchItemFailures || rt == "ReportBatchItemFailures"
				}
				f.SQS = append(f.SQS, se)
			case "Schedule":
				var e rawScheduleEvent
				if err := json.Unmarshal(ev.Properties, &e); err != nil {
					return fmt.Errorf("%s event %s: %w", f.LogicalID, name, err)
				}
				expr, _ := e.Schedule.(string)
				if expr == "" {
					return fmt.Errorf("%s event %s: Schedule must be a rate(...) or cron(...) expression", f.LogicalID, name)
				}
				f.Schedules = append(f.Schedules, ScheduleEvent{Event: name, Expression: expr})
			}
		}
		sort.Slice(f.SQS, func(i, j int) bool { return f.SQS[i].Event < f.SQS[j].Event })
		sort.Slice(f.Schedules, func(i, j int) bool { return f.Schedules[i].Event < f.Schedules[j].Event })
	}
	return nil
}

// QueueNameOf turns a queue's logical id into its Corral name: the "Queue" suffix dropped, the CamelCase
// words hyphenated in lower case (JobsQueue -> jobs, JobsDeadLetterQueue -> jobs-dead-letter,
// WebhooksDLQ -> webhooks-dlq).
func QueueNameOf(logicalID string) string {
	id := strings.TrimSuffix(logicalID, "Queue")
	if id == "" {
		id = logicalID
	}
	r := []rune(id)
	var b strings.Builder
	for i, c := range r {
		if i > 0 && unicode.IsUpper(c) {
			prev := r[i-1]
			nextLower := i+1 < len(r) && unicode.IsLower(r[i+1])
			if unicode.IsLower(prev) || unicode.IsDigit(prev) || (unicode.IsUpper(prev) && nextLower) {
				b.WriteByte('-')
			}
		}
		b.WriteRune(unicode.ToLower(c))
	}
	return b.String()
}
