package samtemplate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestLoadQueuesAndEvents reads queues, redrive policies, SQS and Schedule events, in the short and long
// forms of Fn::GetAtt and with maxReceiveCount written as a string (goformation itself insists on numbers
// for typed properties such as VisibilityTimeout).
func TestLoadQueuesAndEvents(t *testing.T) {
	t.Parallel()
	tpl, err := Load(filepath.Join("testdata", "queues.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	wantQueues := []Queue{
		{LogicalID: "JobsQueue", Name: "jobs", QueueName: "corral-test-jobs", VisibilityTimeout: 180, DeadLetter: "JobsDeadLetterQueue", MaxReceiveCount: 5},
		{LogicalID: "JobsDeadLetterQueue", Name: "jobs-dead-letter", MessageRetention: 1209600},
		{LogicalID: "WebhooksQueue", Name: "webhooks", VisibilityTimeout: 90, DeadLetter: "WebhooksDLQ", MaxReceiveCount: 8},
		{LogicalID: "WebhooksDLQ", Name: "webhooks-dlq"},
	}
	if diff := cmp.Diff(wantQueues, tpl.Queues); diff != "" {
		t.Errorf("queues (-want +got):\n%s", diff)
	}
	worker, _ := tpl.Function("jobs-worker")
	wantSQS := []SQSEvent{
		{Event: "Jobs", Queue: "JobsQueue", BatchSize: 5, ReportBatchItemFailures: true},
		{Event: "Webhooks", Queue: "WebhooksQueue", BatchSize: 10},
	}
	if diff := cmp.Diff(wantSQS, worker.SQS); diff != "" {
		t.Errorf("SQS events (-want +got):\n%s", diff)
	}
	cleanup, _ := tpl.Function("cleanup")
	wantSchedules := []ScheduleEvent{{Event: "Hourly", Expression: "rate(1 hour)"}, {Event: "Nightly", Expression: "cron(0 3 * * ? *)"}}
	if diff := cmp.Diff(wantSchedules, cleanup.Schedules); diff != "" {
		t.Errorf("schedules (-want +got):\n%s", diff)
	}
}

func TestLoadRejectsUnknownQueues(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, yaml, want string }{
		{"event queue not in the template", `
Resources:
  F:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/f
      Events:
        Q: {Type: SQS, Properties: {Queue: "arn:aws:sqs:eu-west-1:123456789012:elsewhere"}}
`, "Queue must be !GetAtt"},
		{"dead letter queue not in the template", `
Resources:
  AQueue:
    Type: AWS::SQS::Queue
    Properties:
      RedrivePolicy: {deadLetterTargetArn: !GetAtt MissingQueue.Arn, maxReceiveCount: 3}
`, "MissingQueue is not a queue"},
		{"schedule without expression", `
Resources:
  F:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/f
      Events:
        S: {Type: Schedule, Properties: {}}
`, "rate(...) or cron(...)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			file := filepath.Join(t.TempDir(), "template.yaml")
			if err := os.WriteFile(file, []byte("Transform: AWS::Serverless-2016-10-31\n"+tt.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Load(file)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Load: err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestQueueNameOf(t *testing.T) {
	t.Parallel()
	tests := []struct{ id, name, env string }{
		{"JobsQueue", "jobs", "QUEUE_URL_JOBS"},
		{"JobsDeadLetterQueue", "jobs-dead-letter", "QUEUE_URL_JOBS_DEAD_LETTER"},
		{"WebhooksDLQ", "webhooks-dlq", "QUEUE_URL_WEBHOOKS_DLQ"},
		{"Stripe2EventsQueue", "stripe2-events", "QUEUE_URL_STRIPE2_EVENTS"},
		{"Queue", "queue", "QUEUE_URL_QUEUE"},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			t.Parallel()
			q := Queue{Name: QueueNameOf(tt.id)}
			if q.Name != tt.name || q.EnvVar() != tt.env {
				t.Errorf("QueueNameOf(%q) = %q (%s), want %q (%s)", tt.id, q.Name, q.EnvVar(), tt.name, tt.env)
			}
		})
	}
}
