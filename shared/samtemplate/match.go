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
func (r *Router) Lookup(method, path string) (m Match, ok bool) {
	segs := split(path)
	bestScore := -1
	for _, e := range r.entries {
		if e.route.Method != method && e.route.Method != "ANY" {
			continue
		}
		params, score, hit := matchSegs(e.segs, segs)
		if !hit {
			continue
		}
		score *= 2
		if e.route.Method != "ANY" {
			score++ // an exact method beats ANY at the same specificity
		}
		if score > bestScore {
			bestScore = score
			m = Match{Function: e.fn, Route: e.route, Params: params}
		}
	}
	return m, bestScore >= 0
}

// matchSegs scores a match: each literal segment counts 2, each parameter 1, a greedy tail 0, so the most
// specific route wins.
func matchSegs(pattern, path []string) (map[string]string, int, bool) {
	params := map[string]string{}
	score := 0
	for i, p := range pattern {
		if strings.HasPrefix(p, "{") && strings.HasSuffix(p, "+}") {
			if i >= len(path) {
				return nil, 0, false
			}
			params[strings.TrimSuffix(strings.TrimPrefix(p, "{"), "+}")] = strings.Join(path[i:], "/")
			return params, score, true
		}
		if i >= len(path) {
			return nil, 0, false
		}
		if strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}") {
			if path[i] == "" {
				return nil, 0, false
			}
			params[p[1:len(p)-1]] = path[i]
			score++
			continue
		}
		if p != path[i] {
			return nil, 0, false
		}
		score += 2
	}
	if len(pattern) != len(path) {
		return nil, 0, false
	}
	return params, score, true
}

func split(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}
