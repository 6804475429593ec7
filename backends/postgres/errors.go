package postgres

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

var (
	// ErrUnreachable is an Open whose server could not be reached.
	ErrUnreachable = errors.New("postgres: server unreachable")
	// ErrAuth is an Open the server refused: unknown role, wrong password,
	// no access to the database.
	ErrAuth = errors.New("postgres: credentials refused")
	// ErrNoDatabase is an Open naming a database the server does not have.
	ErrNoDatabase = errors.New("postgres: no such database")
	// ErrPermission is an Open that may not create or change the store's
	// schema.
	ErrPermission = errors.New("postgres: permission denied")
	// ErrSchemaTooNew is an Open of a schema written by a newer version of
	// this package: it is refused rather than misread.
	ErrSchemaTooNew = errors.New("postgres: schema is newer than this version knows")
	// ErrOutcomeUnknown is a commit whose COMMIT was sent but whose answer
	// was lost with the connection: it may or may not be stored. Retrying
	// it with the same event IDs resolves it (see the package doc).
	ErrOutcomeUnknown = errors.New("postgres: commit outcome unknown")
	// ErrNotWritten is a commit the server did not store: its transaction
	// failed before COMMIT, so nothing of it was written.
	ErrNotWritten = errors.New("postgres: commit not written")
)

// OpenError is a failed Open: the store it was to open (the DSN without
// its password, and the schema), a sentinel saying what kind of failure it
// was, and the cause.
type OpenError struct {
	DSN    string // redacted: never holds a password
	Schema string
	Kind   error // ErrUnreachable, ErrAuth, ErrNoDatabase, ErrPermission, ErrSchemaTooNew or nil
	Err    error
}

func (e *OpenError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "postgres: open %s (schema %q)", e.DSN, e.Schema)
	if e.Kind != nil {
		b.WriteString(": ")
		b.WriteString(strings.TrimPrefix(e.Kind.Error(), "postgres: "))
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap gives the kind and the cause, for errors.Is and errors.As.
func (e *OpenError) Unwrap() []error {
	var out []error
	if e.Kind != nil {
		out = append(out, e.Kind)
	}
	if e.Err != nil {
		out = append(out, e.Err)
	}
	return out
}

// Redact returns dsn without its password, in URL form when it can be
// parsed (postgres://user@host:port/db), so that errors and logs can name
// a store without giving its secret away.
func Redact(dsn string) string {
	cfg, err := pgconn.ParseConfig(dsn)
	if err != nil {
		// An unparsable DSN is shown only by its scheme-free shape: it may
		// hold a password in a form we could not find.
		if u, uerr := url.Parse(dsn); uerr == nil && u.Host != "" {
			return u.Redacted()
		}
		return "(unparsable DSN)"
	}
	return describe(cfg)
}

// describe names the server, role and database of cfg, never its
// password.
func describe(cfg *pgconn.Config) string {
	u := url.URL{Scheme: "postgres", Path: "/" + cfg.Database}
	if cfg.User != "" {
		u.User = url.User(cfg.User)
	}
	host := cfg.Host
	if strings.HasPrefix(host, "/") {
		// A Unix socket directory: show it as the host query parameter.
		q := url.Values{"host": {host}}
		u.RawQuery = q.Encode()
		host = ""
	}
	if host != "" {
		if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
		u.Host = fmt.Sprintf("%s:%d", host, cfg.Port)
	}
	return u.String()
}

// classify tells which kind of Open failure err is, nil when it is none
// of the known kinds.
func classify(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "28P01" || pe.Code == "28000" || pe.Code == "42501" && strings.Contains(pe.Message, "CONNECT"):
			return ErrAuth
		case pe.Code == "3D000":
			return ErrNoDatabase
		case pe.Code == "42501":
			return ErrPermission
		}
		return nil
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return ErrUnreachable
	}
	return nil
}

// sqlState is err's SQLSTATE code, "" when the server did not answer with
// one.
func sqlState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}
