package samtemplate

import "strings"

// Router matches requests to routes the way API Gateway HTTP APIs do: literal segments beat {param}
// segments, which beat a greedy {proxy+} tail; ANY matches a method when no route names it.
type Router struct {
	entries []entry
}

type entry struct {
	fn    string
	route Route
	segs  []string
}

// Match is a routed request: the function, the route, and the path parameters.
type Match struct {
	Function string
	Route    Route
	Params   map[string]string
}

// NewRouter indexes every HttpApi route of t.
func NewRouter(t *Template) *Router {
	r := &Router{}
	for _, f := range t.Functions {
		for _, rt := range f.Routes {
			r.entries = append(r.entries, entry{fn: f.Name, route: rt, segs: split(rt.Path)})
		}
	}
	return r
}

// Lookup finds the route for method and path. ok is false when no route matches (API Gateway's 404).
// It scores every route without building anything, then takes the path parameters of the best one: the
// local runner looks up every request among a hundred routes.
func (r *Router) Lookup(method, path string) (m Match, ok bool) {
	segs := split(path)
	best, bestScore := -1, -1
	for i := range r.entries {
		e := &r.entries[i]
		if e.route.Method != method && e.route.Method != "ANY" {
			continue
		}
		score, hit := matchSegs(e.segs, segs, nil)
		if !hit {
			continue
		}
		score *= 2
		if e.route.Method != "ANY" {
			score++ // an exact method beats ANY at the same specificity
		}
		if score > bestScore {
			best, bestScore = i, score
		}
	}
	if best < 0 {
		return Match{}, false
	}
	e := &r.entries[best]
	params := map[string]string{}
	matchSegs(e.segs, segs, params)
	return Match{Function: e.fn, Route: e.route, Params: params}, true
}

// matchSegs scores a match: each literal segment counts 2, each parameter 1, a greedy tail 0, so the most
// specific route wins. When params is not nil, a match's path parameters are added to it.
func matchSegs(pattern, path []string, params map[string]string) (int, bool) {
	score := 0
	for i, p := range pattern {
		if strings.HasPrefix(p, "{") && strings.HasSuffix(p, "+}") {
			if i >= len(path) {
				return 0, false
			}
			if params != nil {
				params[strings.TrimSuffix(strings.TrimPrefix(p, "{"), "+}")] = strings.Join(path[i:], "/")
			}
			return score, true
		}
		if i >= len(path) {
			return 0, false
		}
		if strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}") {
			if path[i] == "" {
				return 0, false
			}
			if params != nil {
				params[p[1:len(p)-1]] = path[i]
			}
			score++
			continue
		}
		if p != path[i] {
			return 0, false
		}
		score += 2
	}
	if len(pattern) != len(path) {
		return 0, false
	}
	return score, true
}

func split(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}
