package localrun

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/rocker-app/corral/shared/platform"
	"github.com/rocker-app/corral/shared/samtemplate"
	"github.com/rocker-app/corral/shared/sqsx"
)

// LocalQueue is a queue of template.yaml created on the local SQS server.
type LocalQueue struct {
	samtemplate.Queue
	URL string
	ARN string
	// LocalName is the name on the local server: the prefix given to CreateQueues and Queue.Name.
	LocalName string
}

// CreateQueues creates every queue of tpl on the SQS server c talks to, named prefix + Queue.Name, dead-letter
// queues before the queues that name them, and sets each one's visibility timeout, retention and redrive
// policy (maxReceiveCount; the local server, fauxqs, moves a message to the dead-letter queue on the receive
// after that many, as SQS does). Running it again on existing queues updates their attributes. It returns
// the queues by Name, and fails on the first queue the server refuses.
func CreateQueues(ctx context.Context, c *sqsx.Client, tpl *samtemplate.Template, prefix string) (map[string]LocalQueue, error) {
	byID := map[string]LocalQueue{}
	out := map[string]LocalQueue{}
	for len(byID) < len(tpl.Queues) {
		progressed := false
		for _, q := range tpl.Queues {
			if _, done := byID[q.LogicalID]; done {
				continue
			}
			if _, ready := byID[q.DeadLetter]; q.DeadLetter != "" && !ready {
				continue
			}
			lq, err := createQueue(ctx, c, q, prefix, byID[q.DeadLetter].ARN)
			if err != nil {
				return nil, err
			}
			byID[q.LogicalID], out[q.Name] = lq, lq
			progressed = true
		}
		if !progressed {
			return nil, fmt.Errorf("localrun: the dead-letter queues of template.yaml form a cycle")
		}
	}
	return out, nil
}

func createQueue(ctx context.Context, c *sqsx.Client, q samtemplate.Queue, prefix, deadLetterARN string) (LocalQueue, error) {
	lq := LocalQueue{Queue: q, LocalName: prefix + q.Name}
	var err error
	if lq.URL, err = c.CreateQueue(ctx, lq.LocalName, nil); err != nil {
		return lq, fmt.Errorf("localrun: create queue %s: %w", lq.LocalName, err)
	}
	attrs := map[string]string{}
	if q.VisibilityTimeout > 0 {
		attrs["VisibilityTimeout"] = strconv.Itoa(q.VisibilityTimeout)
	}
	if q.MessageRetention > 0 {
		attrs["MessageRetentionPeriod"] = strconv.Itoa(q.MessageRetention)
	}
	if deadLetterARN != "" {
		policy, err := json.Marshal(map[string]any{"deadLetterTargetArn": deadLetterARN, "maxReceiveCount": q.MaxReceiveCount})
		if err != nil {
			return lq, err
		}
		attrs["RedrivePolicy"] = string(policy)
	}
	if len(attrs) > 0 {
		if err := c.SetQueueAttributes(ctx, lq.URL, attrs); err != nil {
			return lq, fmt.Errorf("localrun: set attributes of queue %s: %w", lq.LocalName, err)
		}
	}
	if lq.ARN, err = sqsx.QueueARN(ctx, c, lq.URL); err != nil {
		return lq, fmt.Errorf("localrun: queue %s: %w", lq.LocalName, err)
	}
	return lq, nil
}

// DevQueuePrefix is the prefix of the queues `make dev` and `make invoke` create (jobs is corral-jobs).
const DevQueuePrefix = "corral-"

// SetupQueues creates the template's queues on the local SQS server (when d.Config.SQSEndpoint is set)
// named DevQueuePrefix + Name, and gives their URLs to the functions: d.Config.Queues, which is where
// QUEUE_URL_<NAME> lands in Lambda. Without an endpoint it changes nothing and returns nil queues, so the
// consumers are not polled. It fails as CreateQueues does.
func SetupQueues(ctx context.Context, d *platform.Deps, tpl *samtemplate.Template) (map[string]LocalQueue, error) {
	if d.Config.SQSEndpoint == "" {
		return nil, nil
	}
	qs, err := CreateQueues(ctx, d.SQS, tpl, DevQueuePrefix)
	if err != nil {
		return nil, err
	}
	d.Config.Queues = QueueURLs(qs)
	return qs, nil
}

// QueueURLs maps each queue's Name to its URL: the shape of config.Config.Queues.
func QueueURLs(queues map[string]LocalQueue) map[string]string {
	urls := make(map[string]string, len(queues))
	for name, q := range queues {
		urls[name] = q.URL
	}
	return urls
}

// QueueEnv maps each queue's variable (QUEUE_URL_JOBS, ...) to its URL, as Lambda's environment would.
func QueueEnv(queues map[string]LocalQueue) map[string]string {
	env := make(map[string]string, len(queues))
	for _, q := range queues {
		env[q.EnvVar()] = q.URL
	}
	return env
}
