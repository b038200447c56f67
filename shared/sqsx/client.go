package sqsx

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/rocker-app/corral/shared/awsjson"
)

// attemptTimeout bounds one SQS call attempt: longer than the longest long poll (WaitTimeSeconds 20), so
// a ReceiveMessage that waits is never cut short, while a stuck connection still fails the attempt.
const attemptTimeout = 25 * time.Second

// Client calls the SQS operations Corral uses over SQS's JSON protocol (AWS JSON 1.0, what the current
// SDK speaks), through shared/awsjson. It stands in for the SDK's generated client
// (aws-sdk-go-v2/service/sqs): linking that package alone added ~0.4 ms of package initialisation (its
// schemas and endpoint rule set) to every function's cold start, each of which built a queue client, for
// nine operations that are one signed POST each. Signing and credentials are still the SDK's. Not done
// here: the SDK's MD5 checks of sent and received messages (the transport is TLS). Safe for concurrent use.
type Client struct {
	c *awsjson.Client
}

// NewClient returns a client taking the region and credentials from cfg (see shared/awsenv); endpoint,
// when set, replaces https://sqs.<region>.amazonaws.com (the local SQS server). It makes no request.
func NewClient(cfg aws.Config, endpoint string) *Client {
	return &Client{c: awsjson.New(cfg, awsjson.SQS, awsjson.Options{Endpoint: endpoint, Timeout: attemptTimeout})}
}

// MessageAttribute is a message attribute as SQS has it: DataType "String", "Number" or "Binary" (with an
// optional ".label"), and the value in StringValue or BinaryValue.
type MessageAttribute struct {
	DataType    string  `json:"DataType"`
	StringValue *string `json:"StringValue,omitempty"`
	BinaryValue []byte  `json:"BinaryValue,omitempty"`
}

// StringAttribute is a "String" message attribute holding v.
func StringAttribute(v string) MessageAttribute {
	return MessageAttribute{DataType: "String", StringValue: &v}
}

// SendEntry is one message of a SendMessageBatch; Id is unique within the batch.
type SendEntry struct {
	ID                string                      `json:"Id"`
	MessageBody       string                      `json:"MessageBody"`
	DelaySeconds      int32                       `json:"DelaySeconds,omitempty"`
	MessageAttributes map[string]MessageAttribute `json:"MessageAttributes,omitempty"`
}

// DeleteEntry is one message of a DeleteMessageBatch; Id is unique within the batch.
type DeleteEntry struct {
	ID            string `json:"Id"`
	ReceiptHandle string `json:"ReceiptHandle"`
}

// BatchResult is SQS's answer to a batch call: the entry ids that succeeded and those that failed.
type BatchResult struct {
	Successful []struct {
		ID        string `json:"Id"`
		MessageID string `json:"MessageId"` // SendMessageBatch only
	} `json:"Successful"`
	Failed []BatchFailure `json:"Failed"`
}

// BatchFailure is one entry of a batch that SQS refused.
type BatchFailure struct {
	ID          string `json:"Id"`
	Code        string `json:"Code"`
	Message     string `json:"Message"`
	SenderFault bool   `json:"SenderFault"`
}

// Error returns the entry's code and message.
func (f BatchFailure) Error() error { return fmt.Errorf("%s: %s", f.Code, f.Message) }

// ReceivedMessage is one message of a ReceiveMessage answer.
type ReceivedMessage struct {
	MessageID              string                      `json:"MessageId"`
	ReceiptHandle          string                      `json:"ReceiptHandle"`
	MD5OfBody              string                      `json:"MD5OfBody"`
	Body                   string                      `json:"Body"`
	Attributes             map[string]string           `json:"Attributes"`
	MD5OfMessageAttributes string                      `json:"MD5OfMessageAttributes"`
	MessageAttributes      map[string]MessageAttribute `json:"MessageAttributes"`
}

// ReceiveInput is a ReceiveMessage request. Zero VisibilityTimeout keeps the queue's own; zero
// WaitTimeSeconds is a short poll.
type ReceiveInput struct {
	QueueURL                    string   `json:"QueueUrl"`
	MaxNumberOfMessages         int32    `json:"MaxNumberOfMessages,omitempty"`
	WaitTimeSeconds             int32    `json:"WaitTimeSeconds,omitempty"`
	VisibilityTimeout           int32    `json:"VisibilityTimeout,omitempty"`
	MessageAttributeNames       []string `json:"MessageAttributeNames,omitempty"`
	MessageSystemAttributeNames []string `json:"MessageSystemAttributeNames,omitempty"`
}

// SendMessageBatch sends up to 10 messages to the queue at queueURL.
func (c *Client) SendMessageBatch(ctx context.Context, queueURL string, entries []SendEntry) (*BatchResult, error) {
	return batch(ctx, c, "SendMessageBatch", queueURL, entries)
}

// batch calls one of the batch operations, whose request is the queue and its entries.
func batch[E SendEntry | DeleteEntry](ctx context.Context, c *Client, operation, queueURL string, entries []E) (*BatchResult, error) {
	in := struct {
		QueueURL string `json:"QueueUrl"`
		Entries  []E    `json:"Entries"`
	}{queueURL, entries}
	var out BatchResult
	if err := c.c.Call(ctx, operation, in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// SendMessage sends one message and returns its SQS message id.
func (c *Client) SendMessage(ctx context.Context, queueURL string, e SendEntry) (string, error) {
	in := struct {
		QueueURL          string                      `json:"QueueUrl"`
		MessageBody       string                      `json:"MessageBody"`
		DelaySeconds      int32                       `json:"DelaySeconds,omitempty"`
		MessageAttributes map[string]MessageAttribute `json:"MessageAttributes,omitempty"`
	}{queueURL, e.MessageBody, e.DelaySeconds, e.MessageAttributes}
	var out struct {
		MessageID string `json:"MessageId"`
	}
	if err := c.c.Call(ctx, "SendMessage", in, &out); err != nil {
		return "", err
	}
	return out.MessageID, nil
}

// ReceiveMessage receives up to in.MaxNumberOfMessages messages; none when the wait ends empty.
func (c *Client) ReceiveMessage(ctx context.Context, in ReceiveInput) ([]ReceivedMessage, error) {
	var out struct {
		Messages []ReceivedMessage `json:"Messages"`
	}
	if err := c.c.Call(ctx, "ReceiveMessage", in, &out); err != nil {
		return nil, err
	}
	return out.Messages, nil
}

// DeleteMessageBatch deletes up to 10 received messages from the queue at queueURL.
func (c *Client) DeleteMessageBatch(ctx context.Context, queueURL string, entries []DeleteEntry) (*BatchResult, error) {
	return batch(ctx, c, "DeleteMessageBatch", queueURL, entries)
}

// ChangeMessageVisibility makes a received message visible again after seconds (0: at once).
func (c *Client) ChangeMessageVisibility(ctx context.Context, queueURL, receiptHandle string, seconds int32) error {
	in := struct {
		QueueURL          string `json:"QueueUrl"`
		ReceiptHandle     string `json:"ReceiptHandle"`
		VisibilityTimeout int32  `json:"VisibilityTimeout"`
	}{queueURL, receiptHandle, seconds}
	return c.c.Call(ctx, "ChangeMessageVisibility", in, nil)
}

// GetQueueAttributes returns the named attributes of the queue at queueURL; "All", or no name, for every
// one.
func (c *Client) GetQueueAttributes(ctx context.Context, queueURL string, names ...string) (map[string]string, error) {
	if len(names) == 0 {
		names = []string{"All"}
	}
	in := struct {
		QueueURL       string   `json:"QueueUrl"`
		AttributeNames []string `json:"AttributeNames"`
	}{queueURL, names}
	var out struct {
		Attributes map[string]string `json:"Attributes"`
	}
	if err := c.c.Call(ctx, "GetQueueAttributes", in, &out); err != nil {
		return nil, err
	}
	return out.Attributes, nil
}

// SetQueueAttributes changes attributes of the queue at queueURL.
func (c *Client) SetQueueAttributes(ctx context.Context, queueURL string, attrs map[string]string) error {
	in := struct {
		QueueURL   string            `json:"QueueUrl"`
		Attributes map[string]string `json:"Attributes"`
	}{queueURL, attrs}
	return c.c.Call(ctx, "SetQueueAttributes", in, nil)
}

// GetQueueURL returns the URL of the queue named name in account (empty: the caller's).
func (c *Client) GetQueueURL(ctx context.Context, name, account string) (string, error) {
	in := struct {
		QueueName string `json:"QueueName"`
		Account   string `json:"QueueOwnerAWSAccountId,omitempty"`
	}{name, account}
	var out struct {
		QueueURL string `json:"QueueUrl"`
	}
	if err := c.c.Call(ctx, "GetQueueUrl", in, &out); err != nil {
		return "", err
	}
	return out.QueueURL, nil
}

// CreateQueue creates the queue named name with attrs (or returns the URL of the one there is, when its
// attributes are the same) and returns its URL.
func (c *Client) CreateQueue(ctx context.Context, name string, attrs map[string]string) (string, error) {
	in := struct {
		QueueName  string            `json:"QueueName"`
		Attributes map[string]string `json:"Attributes,omitempty"`
	}{name, attrs}
	var out struct {
		QueueURL string `json:"QueueUrl"`
	}
	if err := c.c.Call(ctx, "CreateQueue", in, &out); err != nil {
		return "", err
	}
	return out.QueueURL, nil
}

// DeleteQueue deletes the queue at queueURL.
func (c *Client) DeleteQueue(ctx context.Context, queueURL string) error {
	in := struct {
		QueueURL string `json:"QueueUrl"`
	}{queueURL}
	return c.c.Call(ctx, "DeleteQueue", in, nil)
}
