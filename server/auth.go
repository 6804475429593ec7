package server

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/sx"
)

// GrantKind is what a grant allows.
type GrantKind string

// The kinds of grant.
const (
	GrantRead    GrantKind = "read"     // read streams within the prefix
	GrantWrite   GrantKind = "write"    // append to streams within the prefix
	GrantKvRead  GrantKind = "kv-read"  // get and list keys within the prefix
	GrantKvWrite GrantKind = "kv-write" // put and delete keys within the prefix
	GrantDelete  GrantKind = "delete"   // hard-delete streams within the prefix (a tombstone, for ever)
	GrantAdmin   GrantKind = "admin"    // everything, and /metrics

	GrantBlobRead  GrantKind = "blob-read"  // get and stat blobs (blob grants take no prefix)
	GrantBlobWrite GrantKind = "blob-write" // put blobs
)

// Grant allows one kind of access to the names that start with Prefix.
type Grant struct {
	Kind   GrantKind
	Prefix string
}

// String is the grant as the tokens file writes it: "read orders/", or
// the kind alone for the empty prefix.
func (g Grant) String() string {
	if g.Prefix == "" || g.Kind == GrantAdmin || g.Kind == GrantBlobRead || g.Kind == GrantBlobWrite {
		return string(g.Kind)
	}
	return string(g.Kind) + " " + g.Prefix
}

// MarshalText writes String.
func (g Grant) MarshalText() ([]byte, error) { return []byte(g.String()), nil }

// UnmarshalText reads what ParseGrant reads.
func (g *Grant) UnmarshalText(b []byte) error {
	x, err := ParseGrant(string(b))
	if err != nil {
		return err
	}
	*g = x
	return nil
}

// ParseGrant reads a grant: a kind (read, write, kv-read, kv-write,
// delete, blob-read, blob-write, admin), then optionally one space and the prefix, which runs to the end
// (so it may hold spaces); no prefix is the empty prefix, every name.
func ParseGrant(s string) (Grant, error) {
	kind, prefix, _ := strings.Cut(s, " ")
	g := Grant{Kind: GrantKind(kind), Prefix: prefix}
	switch g.Kind {
	case GrantRead, GrantWrite, GrantKvRead, GrantKvWrite, GrantDelete:
	case GrantAdmin, GrantBlobRead, GrantBlobWrite:
		if prefix != "" {
			return Grant{}, fmt.Errorf("server: grant %q: %s takes no prefix", s, kind)
		}
	default:
		return Grant{}, fmt.Errorf("server: grant %q: want read, write, kv-read, kv-write, delete, blob-read, blob-write or admin", s)
	}
	return g, nil
}

// Token is a bearer token as the server keeps it: its name (for logs and
// metrics), the SHA-256 of its secret, its grants and, optionally, when it
// expires. The secret itself is never stored.
type Token struct {
	Name   string
	SHA256 string `sx:"sha256"` // hex
	Grants []Grant
	// Expires, when set, is the instant from which the token is refused
	// (401, an *ExpiredError); zero means it never expires.
	Expires time.Time `sx:",omitzero"`
}

// ExpiredError is a request whose token expired. It is an unauthorized
// request: errors.Is(err, ErrUnauthorized) holds.
type ExpiredError struct{ At time.Time }

func (e *ExpiredError) Error() string {
	return "server: unauthorized: the token expired at " + e.At.UTC().Format(time.RFC3339)
}

// Is makes an ExpiredError an ErrUnauthorized.
func (e *ExpiredError) Is(target error) bool { return target == ErrUnauthorized }

// TokenCookie is the cookie in which a browser presents a token's secret
// (the console's sign-in sets it). The server reads it only on GET
// requests without an Authorization header, which change nothing, so a
// request forged from another site gains nothing by it.
const TokenCookie = "persist_token"

// NewToken draws a fresh secret (32 random bytes, base64url) and returns it
// with its Token; the caller shows the secret once and keeps the Token.
func NewToken(name string, grants ...Grant) (secret string, tok Token, err error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", Token{}, err
	}
	secret = "pst_" + base64.RawURLEncoding.EncodeToString(b[:])
	return secret, Token{Name: name, SHA256: HashSecret(secret), Grants: grants}, nil
}

// HashSecret is the hex SHA-256 of a token's secret, as a Token keeps it.
func HashSecret(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// ParseTokens reads a tokens file: a vector of token dicts in SX, or an
// array of token objects in JSON (text that is valid JSON is read as
// JSON), such as
//
//	[{:name "feed" :sha256 "9f86d0…" :grants ["read feed/" "write feed/" "kv-read feed/"]}
//	 {:name "ops" :sha256 "2c26b4…" :grants ["admin"]}]
func ParseTokens(b []byte) ([]Token, error) {
	n := SX
	if json.Valid(b) {
		n = JSON
	}
	v, err := readValue(b, n)
	if err != nil {
		return nil, fmt.Errorf("server: tokens: %w", err)
	}
	var toks []Token
	if err := sx.ToGo(v, &toks); err != nil {
		return nil, fmt.Errorf("server: tokens: %w", err)
	}
	seen := map[string]bool{}
	for i, t := range toks {
		switch {
		case t.Name == "":
			return nil, fmt.Errorf("server: tokens[%d]: no name", i)
		case len(t.SHA256) != 64 || strings.Trim(strings.ToLower(t.SHA256), "0123456789abcdef") != "":
			return nil, fmt.Errorf("server: tokens[%d] %q: sha256 is not 64 hex digits", i, t.Name)
		case seen[strings.ToLower(t.SHA256)]:
			return nil, fmt.Errorf("server: tokens[%d] %q: the same secret as another token", i, t.Name)
		}
		toks[i].SHA256 = strings.ToLower(t.SHA256)
		seen[toks[i].SHA256] = true
	}
	return toks, nil
}

// principal is who a request is from: a token, or anyone when the server
// has no tokens.
type principal struct {
	tok *Token // nil: no tokens configured, everything is allowed
}

func (pr principal) name() string {
	if pr.tok == nil {
		return ""
	}
	return pr.tok.Name
}

func (s *Server) hasTokens() bool { return len(s.tokens) > 0 }

// authenticate finds the request's token. Without tokens configured every
// request is allowed.
func (s *Server) authenticate(r *http.Request) (principal, error) {
	if !s.hasTokens() {
		return principal{}, nil
	}
	h := r.Header.Get("Authorization")
	scheme, secret, ok := strings.Cut(h, " ")
	if h == "" && r.Method == http.MethodGet {
		if c, err := r.Cookie(TokenCookie); err == nil && c.Value != "" {
			h, scheme, secret, ok = c.Value, "Bearer", c.Value, true
		}
	}
	if h == "" {
		s.metrics.authFailure("missing")
		return principal{}, ErrUnauthorized
	}
	if !ok || !strings.EqualFold(scheme, "Bearer") || secret == "" {
		s.metrics.authFailure("malformed")
		return principal{}, ErrUnauthorized
	}
	return s.lookup(secret)
}

// lookup finds the token of a secret.
func (s *Server) lookup(secret string) (principal, error) {
	tok := s.tokens[HashSecret(secret)]
	if tok == nil {
		s.metrics.authFailure("unknown")
		return principal{}, ErrUnauthorized
	}
	if !tok.Expires.IsZero() && !time.Now().Before(tok.Expires) {
		s.metrics.authFailure("expired")
		return principal{}, &ExpiredError{At: tok.Expires}
	}
	return principal{tok: tok}, nil
}

// allows reports whether the principal holds a grant of kind for name.
func (pr principal) allows(kind GrantKind, name string) bool {
	if pr.tok == nil {
		return true
	}
	for _, g := range pr.tok.Grants {
		if g.Kind == GrantAdmin || g.Kind == kind && strings.HasPrefix(name, g.Prefix) {
			return true
		}
	}
	return false
}

// allowsAny reports whether the principal holds a grant of kind for any
// prefix (or admin).
func (pr principal) allowsAny(kind GrantKind) bool {
	if pr.tok == nil {
		return true
	}
	for _, g := range pr.tok.Grants {
		if g.Kind == GrantAdmin || g.Kind == kind {
			return true
		}
	}
	return false
}

// authorize checks that the principal may perform op.
func (s *Server) authorize(pr principal, op effect.Effect) error {
	if pr.tok == nil {
		return nil
	}
	var err error
	need := func(kind GrantKind, name string) {
		if err == nil && !pr.allows(kind, name) {
			err = &ForbiddenError{Grant: Grant{Kind: kind, Prefix: name}.String()}
		}
	}
	switch o := op.(type) {
	case ops.Append:
		need(GrantWrite, o.Stream)
	case ops.Commit:
		for _, a := range o.Appends {
			need(GrantWrite, a.Stream)
		}
		for _, k := range o.Kv {
			need(GrantKvWrite, k.Key)
		}
	case ops.Read:
		need(GrantRead, o.Stream)
	case ops.Head:
		need(GrantRead, o.Stream)
	case ops.Wait:
		need(GrantRead, o.Stream)
	case ops.ReadAll:
		need(GrantRead, "")
	case ops.Streams:
		need(GrantRead, o.Prefix)
	case ops.KvGet:
		need(GrantKvRead, o.Key)
	case ops.KvPut:
		need(GrantKvWrite, o.Key)
	case ops.KvDelete:
		need(GrantKvWrite, o.Key)
	case ops.KvList:
		need(GrantKvRead, o.Prefix)
	case ops.SnapshotRead:
		need(GrantRead, o.Name)
	case ops.SnapshotWrite:
		need(GrantWrite, o.Snapshot.Name)
	case ops.SnapshotNames:
		need(GrantRead, "")
	case ops.Now:
	case ops.StreamMetaRead:
		need(GrantRead, o.Stream)
	case ops.StreamMetaWrite:
		need(GrantWrite, o.Stream)
	case ops.StreamDelete:
		if o.Hard {
			need(GrantDelete, o.Stream)
		} else {
			need(GrantWrite, o.Stream)
		}
	case ops.KvHistory:
		need(GrantKvRead, o.Key)
	case ops.KvWatch:
		need(GrantKvRead, o.Prefix)
	case ops.KvWait:
		// The store's kv revision, which every kv-watch answer carries
		// too: any kv-read grant shows it.
		if err == nil && !pr.allowsAny(GrantKvRead) {
			err = &ForbiddenError{Grant: Grant{Kind: GrantKvRead}.String() + " (any prefix)"}
		}
	case ops.SnapshotGenerations:
		need(GrantRead, o.Name)
	case ops.Stat:
		need(GrantRead, "")
	default:
		err = errors.New("server: no rule for " + op.EffectName())
	}
	if err != nil {
		s.metrics.authFailure("forbidden")
	}
	return err
}
