package server

import (
	"net/http"
	"slices"
	"strings"
	"time"
)

// Access is what one caller may do: the grants of its token, or
// everything when the server has no tokens. Pages served beside the
// protocol (the console) check requests with it by the same rules as the
// protocol's endpoints.
type Access struct{ pr principal }

// Authenticate finds the token of a request as the protocol's endpoints
// do: the Authorization header, or on a GET request the TokenCookie.
// Without tokens configured every request has full access. The errors are
// ErrUnauthorized (no token, or an unknown one) and *ExpiredError.
func (s *Server) Authenticate(r *http.Request) (Access, error) {
	pr, err := s.authenticate(r)
	return Access{pr}, err
}

// AccessOf finds the token of a secret, as Authenticate does for a
// request.
func (s *Server) AccessOf(secret string) (Access, error) {
	if !s.hasTokens() {
		return Access{}, nil
	}
	pr, err := s.lookup(secret)
	return Access{pr}, err
}

// HasTokens reports whether the server has tokens configured; without
// them every request is allowed.
func (s *Server) HasTokens() bool { return s.hasTokens() }

// Allows reports whether the access holds a grant of kind for name (a
// stream, snapshot or key name, or a listed prefix).
func (a Access) Allows(kind GrantKind, name string) bool { return a.pr.allows(kind, name) }

// All reports whether the access allows everything: no tokens are
// configured, or the token is admin.
func (a Access) All() bool { return a.pr.tok == nil || slices.ContainsFunc(a.pr.tok.Grants, isAdmin) }

func isAdmin(g Grant) bool { return g.Kind == GrantAdmin }

// Expires is when the token expires, zero when it does not.
func (a Access) Expires() time.Time {
	if a.pr.tok == nil {
		return time.Time{}
	}
	return a.pr.tok.Expires
}

// Grants is a copy of the token's grants, in the token's order; nil
// without tokens (every request is allowed).
func (a Access) Grants() []Grant {
	if a.pr.tok == nil {
		return nil
	}
	return slices.Clone(a.pr.tok.Grants)
}

// Name is the token's name, "" without tokens.
func (a Access) Name() string { return a.pr.name() }

// Prefixes gives the prefixes that grants of kind cover, within prefix:
// the grants' own prefixes that start with prefix, leaving out those
// another covers (read "a" covers read "ab"), in byte order. When one
// grant covers prefix itself the answer is just prefix. Empty means the
// access reaches no name within prefix.
func (a Access) Prefixes(kind GrantKind, prefix string) []string {
	if a.Allows(kind, prefix) {
		return []string{prefix}
	}
	var ps []string
	for _, g := range a.pr.tok.Grants {
		if g.Kind == kind && strings.HasPrefix(g.Prefix, prefix) {
			ps = append(ps, g.Prefix)
		}
	}
	slices.Sort(ps)
	ps = slices.Compact(ps)
	// Sorted, a prefix comes before every name it covers.
	var out []string
	for _, p := range ps {
		if len(out) == 0 || !strings.HasPrefix(p, out[len(out)-1]) {
			out = append(out, p)
		}
	}
	return out
}

// Mount serves h for every path under prefix (which ends in "/"), beside
// the protocol's endpoints, through the server's request log, metrics and
// request IDs. A browser asking for "/" (Accept naming text/html) is
// redirected to prefix. Mount is called before the server serves.
func (s *Server) Mount(prefix string, h http.Handler) {
	if !strings.HasPrefix(prefix, "/") || !strings.HasSuffix(prefix, "/") {
		panic("server: Mount: prefix " + prefix + " does not start and end with /")
	}
	s.mux.Handle(prefix, h)
	s.mu.Lock()
	s.home = prefix
	s.mu.Unlock()
}
