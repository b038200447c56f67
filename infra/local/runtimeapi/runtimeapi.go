// Package runtimeapi is a minimal local Lambda Runtime API (version 2018-06-01), enough to run a
// function's bootstrap binary outside AWS and time it: the runtime endpoints (GET invocation/next, POST
// invocation/{id}/response, POST invocation/{id}/error, POST init/error) and the registration part of the
// Extensions API (2020-01-01) through which a function enables SIGTERM (aws-lambda-go's
// WithEnableSIGTERM; Corral's functions register none). As in Lambda, an extension registers during
// initialisation only: once the function has asked for its first event, a registration is refused. One
// Server serves one function process, one invocation at a time, as Lambda does.
package runtimeapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Errors of Invoke.
var (
	// ErrInitFailed means the function reported an initialisation error (POST init/error).
	ErrInitFailed = errors.New("runtimeapi: the function failed to initialise")
	// ErrBusy means an invocation is already in flight.
	ErrBusy = errors.New("runtimeapi: an invocation is in flight")
)

// FunctionError is an error the function reported for an invocation (POST invocation/{id}/error) or
// at initialisation.
type FunctionError struct {
	Type    string `json:"errorType"`
	Message string `json:"errorMessage"`
}

func (e *FunctionError) Error() string {
	return "runtimeapi: function error " + e.Type + ": " + e.Message
}

// Result is the outcome of one invocation.
type Result struct {
	Payload []byte
	// Err is set when the function reported an error instead of a response.
	Err *FunctionError
	// Received is when the response (or error) arrived; Fetched is when the function took the event
	// (its GET invocation/next returned).
	Fetched, Received time.Time
}

// Options describe the function to the runtime.
type Options struct {
	FunctionARN string        // Lambda-Runtime-Invoked-Function-Arn (default a local ARN)
	Timeout     time.Duration // the deadline given with each event (default 10 s)
}

type invocation struct {
	id      string
	payload []byte
	done    chan Result
	fetched time.Time
}

// Server is the runtime API of one function process. Its zero value is not usable; use New.
type Server struct {
	opts    Options
	pending chan *invocation
	mux     *http.ServeMux

	mu        sync.Mutex
	inflight  map[string]*invocation
	busy      bool
	firstNext time.Time
	ready     chan struct{} // closed at the first GET invocation/next: initialisation is over
	// extensions are the names of the extensions that registered (Lambda-Extension-Name), in order.
	extensions []string
	extIDs     map[string]bool // identifiers given to registered extensions
	extPolls   int             // event polls by registered extensions
	initErr    *FunctionError
	initDone   chan struct{} // closed on POST init/error
	closed     chan struct{}
	closeOnce  sync.Once
}

// New returns a Server.
func New(o Options) *Server {
	if o.FunctionARN == "" {
		o.FunctionARN = "arn:aws:lambda:local:000000000000:function:local"
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	s := &Server{opts: o, pending: make(chan *invocation, 1), mux: http.NewServeMux(), inflight: map[string]*invocation{},
		ready: make(chan struct{}), initDone: make(chan struct{}), closed: make(chan struct{})}
	const rt = "/2018-06-01/runtime/"
	s.mux.HandleFunc("GET "+rt+"invocation/next", s.next)
	s.mux.HandleFunc("POST "+rt+"invocation/{id}/response", s.respond)
	s.mux.HandleFunc("POST "+rt+"invocation/{id}/error", s.invocationError)
	s.mux.HandleFunc("POST "+rt+"init/error", s.initError)
	const ext = "/2020-01-01/extension/"
	s.mux.HandleFunc("POST "+ext+"register", s.register)
	s.mux.HandleFunc("GET "+ext+"event/next", s.extensionNext)
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Ready is closed when the function first asks for an event: its initialisation is over.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// ReadyAt returns when the function first asked for an event (zero before).
func (s *Server) ReadyAt() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.firstNext
}

// Extensions returns the names of the extensions that registered during initialisation, in order.
func (s *Server) Extensions() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.extensions...)
}

// ExtensionPolls returns how many event polls (GET extension/event/next) registered extensions have made
// with their identifier.
func (s *Server) ExtensionPolls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.extPolls
}

// Close releases the requests that wait (the function's GET invocation/next and its extension's event
// poll): they answer 500 and the function stops asking. Safe to call more than once.
func (s *Server) Close() { s.closeOnce.Do(func() { close(s.closed) }) }

// Invoke hands payload to the function and waits for its response or error. It returns ErrInitFailed
// (wrapping the function's error) when the function reported an initialisation error, ErrBusy when an
// invocation is in flight, and ctx's error when ctx ends first (for example because the process exited).
// An error the function reports for the invocation is in Result.Err, with a nil error.
func (s *Server) Invoke(ctx context.Context, payload []byte) (Result, error) {
	s.mu.Lock()
	if s.busy {
		s.mu.Unlock()
		return Result{}, ErrBusy
	}
	if s.initErr != nil {
		err := s.initErr
		s.mu.Unlock()
		return Result{}, errors.Join(ErrInitFailed, err)
	}
	s.busy = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.busy = false
		s.mu.Unlock()
	}()
	inv := &invocation{id: newID(), payload: payload, done: make(chan Result, 1)}
	s.mu.Lock()
	s.inflight[inv.id] = inv
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.inflight, inv.id)
		s.mu.Unlock()
	}()
	select {
	case s.pending <- inv:
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
	select {
	case res := <-inv.done:
		return res, nil
	case <-s.initDone:
		s.mu.Lock()
		err := s.initErr
		s.mu.Unlock()
		return Result{}, errors.Join(ErrInitFailed, err)
	case <-ctx.Done():
		// Take the event back if the function never fetched it.
		select {
		case <-s.pending:
		default:
		}
		return Result{}, ctx.Err()
	}
}

func (s *Server) next(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if s.firstNext.IsZero() {
		s.firstNext = time.Now()
		close(s.ready)
	}
	s.mu.Unlock()
	select {
	case inv := <-s.pending:
		s.mu.Lock()
		inv.fetched = time.Now()
		s.mu.Unlock()
		h := w.Header()
		h.Set("Lambda-Runtime-Aws-Request-Id", inv.id)
		h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(time.Now().Add(s.opts.Timeout).UnixMilli(), 10))
		h.Set("Lambda-Runtime-Invoked-Function-Arn", s.opts.FunctionARN)
		h.Set("Lambda-Runtime-Trace-Id", "Root=1-00000000-"+inv.id[:24]+";Sampled=0")
		h.Set("Content-Type", "application/json")
		_, _ = w.Write(inv.payload)
	case <-s.closed:
		http.Error(w, `{"errorMessage":"runtime API closed"}`, http.StatusInternalServerError)
	case <-r.Context().Done():
	}
}

// take removes the in-flight invocation id, or answers 400 and returns nil.
func (s *Server) take(w http.ResponseWriter, r *http.Request) *invocation {
	s.mu.Lock()
	inv, ok := s.inflight[r.PathValue("id")]
	if ok {
		delete(s.inflight, inv.id)
	}
	s.mu.Unlock()
	if !ok {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"errorType":"InvalidRequestID","errorMessage":"no invocation in flight with this id"}`))
		return nil
	}
	return inv
}

func accepted(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_, _ = w.Write([]byte(`{"status":"OK"}`))
}

func (s *Server) respond(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	received := time.Now()
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	inv := s.take(w, r)
	if inv == nil {
		return
	}
	s.mu.Lock()
	fetched := inv.fetched
	s.mu.Unlock()
	inv.done <- Result{Payload: body, Fetched: fetched, Received: received}
	accepted(w)
}

func readError(r *http.Request) *FunctionError {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	fe := &FunctionError{}
	if json.Unmarshal(body, fe) != nil || (fe.Type == "" && fe.Message == "") {
		fe = &FunctionError{Type: r.Header.Get("Lambda-Runtime-Function-Error-Type"), Message: string(body)}
	}
	if fe.Type == "" {
		fe.Type = "Unhandled"
	}
	return fe
}

func (s *Server) invocationError(w http.ResponseWriter, r *http.Request) {
	fe := readError(r)
	received := time.Now()
	inv := s.take(w, r)
	if inv == nil {
		return
	}
	s.mu.Lock()
	fetched := inv.fetched
	s.mu.Unlock()
	inv.done <- Result{Err: fe, Fetched: fetched, Received: received}
	accepted(w)
}

func (s *Server) initError(w http.ResponseWriter, r *http.Request) {
	fe := readError(r)
	s.mu.Lock()
	if s.initErr == nil {
		s.initErr = fe
		close(s.initDone)
	}
	s.mu.Unlock()
	accepted(w)
}

// register accepts an extension's registration (a Go function registers one to get SIGTERM) during
// initialisation, and refuses it with 403 afterwards, as Lambda does: the registration must be over before
// the runtime asks for its first event. (The refusal's error type is this server's own.)
func (s *Server) register(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	s.mu.Lock()
	late := !s.firstNext.IsZero()
	if !late {
		s.extensions = append(s.extensions, r.Header.Get("Lambda-Extension-Name"))
	}
	s.mu.Unlock()
	if late {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`{"errorType":"Extension.RegistrationClosed","errorMessage":"extensions register during initialisation, before the runtime's first invocation/next"}`))
		return
	}
	id := newID()
	s.mu.Lock()
	if s.extIDs == nil {
		s.extIDs = map[string]bool{}
	}
	s.extIDs[id] = true
	s.mu.Unlock()
	w.Header().Set("Lambda-Extension-Identifier", id)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"functionName":"local","functionVersion":"$LATEST","handler":"bootstrap"}`))
}

// extensionNext holds an extension's event poll until the server closes, then reports SHUTDOWN. A poll
// without a registered extension's identifier is refused (403), as Lambda does.
func (s *Server) extensionNext(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	known := s.extIDs[r.Header.Get("Lambda-Extension-Identifier")]
	if known {
		s.extPolls++
	}
	s.mu.Unlock()
	if !known {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`{"errorType":"Extension.InvalidExtensionIdentifier","errorMessage":"unknown Lambda-Extension-Identifier"}`))
		return
	}
	select {
	case <-s.closed:
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"eventType":"SHUTDOWN","shutdownReason":"spindown","deadlineMs":0}`))
	case <-r.Context().Done():
	}
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
