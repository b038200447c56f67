package sqsx

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// Poll receives up to n messages (1 to 10) from the queue at queueURL, waiting up to wait (whole
// seconds, at most 20) for the first, and returns them as the event Lambda's SQS event source mapping
// would deliver: every system attribute (ApproximateReceiveCount among them), every message attribute,
// and queueARN as the event source. It stands in for the event source mapping where there is none (the
// local runner, tests). visibility, when positive, overrides the queue's visibility timeout for the
// received messages. An empty event means no message arrived in time; errors are the Client's.
func Poll(ctx context.Context, c *Client, queueURL, queueARN string, n int, wait, visibility time.Duration) (events.SQSEvent, error) {
	in := ReceiveInput{
		QueueURL:                    queueURL,
		MaxNumberOfMessages:         int32(min(max(n, 1), 10)),
		WaitTimeSeconds:             int32(min(wait/time.Second, 20)),
		MessageAttributeNames:       []string{"All"},
		MessageSystemAttributeNames: []string{"All"},
	}
	if visibility > 0 {
		in.VisibilityTimeout = int32(visibility / time.Second)
	}
	msgs, err := c.ReceiveMessage(ctx, in)
	if err != nil {
		return events.SQSEvent{}, err
	}
	return Event(queueARN, msgs), nil
}

// Event converts messages received from the queue queueARN into a Lambda SQS event, field for field as the
// event source mapping fills them.
func Event(queueARN string, msgs []ReceivedMessage) events.SQSEvent {
	region := ""
	if parts := strings.Split(queueARN, ":"); len(parts) == 6 {
		region = parts[3]
	}
	ev := events.SQSEvent{Records: make([]events.SQSMessage, 0, len(msgs))}
	for _, m := range msgs {
		rec := events.SQSMessage{
			MessageId:              m.MessageID,
			ReceiptHandle:          m.ReceiptHandle,
			Body:                   m.Body,
			Md5OfBody:              m.MD5OfBody,
			Md5OfMessageAttributes: m.MD5OfMessageAttributes,
			Attributes:             m.Attributes,
			EventSource:            "aws:sqs",
			EventSourceARN:         queueARN,
			AWSRegion:              region,
		}
		if len(m.MessageAttributes) > 0 {
			rec.MessageAttributes = make(map[string]events.SQSMessageAttribute, len(m.MessageAttributes))
			for k, a := range m.MessageAttributes {
				rec.MessageAttributes[k] = events.SQSMessageAttribute{
					StringValue: a.StringValue,
					BinaryValue: a.BinaryValue,
					DataType:    a.DataType,
				}
			}
		}
		ev.Records = append(ev.Records, rec)
	}
	return ev
}

// QueueARN returns the ARN of the queue at queueURL (GetQueueAttributes QueueArn).
func QueueARN(ctx context.Context, c *Client, queueURL string) (string, error) {
	attrs, err := c.GetQueueAttributes(ctx, queueURL, "QueueArn")
	if err != nil {
		return "", fmt.Errorf("sqsx: ARN of %s: %w", queueURL, err)
	}
	arn := attrs["QueueArn"]
	if arn == "" {
		return "", fmt.Errorf("sqsx: ARN of %s: not in the queue's attributes", queueURL)
	}
	return arn, nil
}
