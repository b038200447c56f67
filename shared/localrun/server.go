// Package localrun is the local stand-in for API Gateway and Lambda that `make dev` starts: it reads
// template.yaml, routes every HTTP request exactly as the HTTP API would (route keys, path parameters,
// source IP, request id), converts it to the payload v2 event, and invokes the function's real Lambda
// handler in this one process. It also prepares the local database and the demo data.
package localrun

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/rocker-app/corral/shared/lambdax"
	"github.com/rocker-app/corral/shared/logging"
	"github.com/rocker-app/corral/shared/platform"
	"github.com/rocker-app/corral/shared/samtemplate"
)

// DefaultTimeout is a function's timeout when the template sets none of its own (the Globals' value).
const DefaultTimeout = 10 * time.Second

// Server is the local HTTP API.
type Server struct {
	router   *samtemplate.Router
	handlers map[string]lambdax.HTTPFunc
	timeouts map[string]time.Duration
	log      *slog.Logger
}

// NewServer builds every HTTP function of tpl from fns, sharing d's clients; each function logs under its
// own name. A function with routes in the template but no entry in fns, or the reverse, is an error: the
// template and the code must agree.
func NewServer(tpl *samtemplate.Template, d *platform.Deps, fns map[string]platform.HTTPFunction) (*Server, error) {
	s := &Server{
		router:   samtemplate.NewRouter(tpl),
		handlers: map[string]lambdax.HTTPFunc{},
		timeouts: map[string]time.Duration{},
		log:      d.Log,
	}
	for _, f := range tpl.Functions {
		if len(f.Routes) == 0 {
			continue
		}
		build, ok := fns[f.Name]
		if !ok {
			return nil, fmt.Errorf("localrun: template function %s has no handler in the catalog", f.Name)
		}
		fd := *d
		fd.Log = d.Log.With(slog.String("function", f.Name))
		s.handlers[f.Name] = lambdax.HTTP(platform.Handler(&fd, build(&fd)))
		s.timeouts[f.Name] = DefaultTimeout
		if f.Timeout > 0 {
			s.timeouts[f.Name] = time.Duration(f.Timeout) * time.Second
		}
	}
	for name := range fns {
		if _, ok := tpl.Function(name); !ok {
			return nil, fmt.Errorf("localrun: catalog function %s is not declared in template.yaml", name)
		}
	}
	return s, nil
}

// ServeHTTP routes r like API Gateway and invokes the function. Unmatched routes answer API Gateway's own
// 404 body.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m, ok := s.router.Lookup(r.Method, r.URL.Path)
	if !ok {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"message":"Not Found"}`))
		return
	}
	reqID := newRequestID()
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		ip = r.RemoteAddr
	}
	ev, err := lambdax.EventFromRequest(r, m.Route.Key(), m.Params, ip, reqID)
	if err != nil {
		http.Error(w, `{"message":"Bad Request"}`, http.StatusBadRequest)
		return
	}
	timeout := s.timeouts[m.Function]
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	ctx = lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{
		AwsRequestID:       reqID,
		InvokedFunctionArn: "arn:aws:lambda:local:000000000000:function:" + m.Function,
	})
	resp, err := s.handlers[m.Function](ctx, ev)
	if err != nil {
		// What API Gateway answers when the integration fails.
		logging.FromContext(ctx).LogAttrs(ctx, slog.LevelError, "function failed", slog.String("function", m.Function), slog.Any("error", err))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(`{"message":"Internal Server Error"}`))
		return
	}
	if err := lambdax.WriteResponse(w, resp); err != nil {
		s.log.LogAttrs(ctx, slog.LevelWarn, "writing response", slog.Any("error", err))
	}
}

// newRequestID returns a UUID-shaped request id, as API Gateway's. It needs to be unique, not secret:
// math/rand/v2's per-thread generator serves that without crypto/rand's lock (as middleware's newID).
func newRequestID() string {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(b[8:], rand.Uint64())
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
