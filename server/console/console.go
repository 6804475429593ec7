package console

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/server"
)

// Path is where the console is mounted on the server.
const Path = "/console/"

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// Section is one table of the state page: a title and its rows.
type Section struct {
	Title string
	Rows  []Row
}

// Row is one figure of a Section.
type Row struct{ Name, Value string }

// Options configure a Console.
type Options struct {
	// Backend names the store for the state page ("file /var/lib/persist",
	// "postgres", "mem").
	Backend string
	// State gives the store's own figures for the state page (the file
	// store's segments, bytes, syncs and recovery reports); nil shows only
	// what every backend answers.
	State func(ctx context.Context) ([]Section, error)
	// Started is when the server started, for its uptime; zero is when New
	// was called.
	Started time.Time
	// Request bounds the store operations of one page. Default 10 s.
	Request time.Duration
}

// Console serves the web console's pages. It is an http.Handler for the
// paths under Path.
type Console struct {
	srv   *server.Server
	store ops.Backend
	opts  Options
	pages map[string]*template.Template
	mux   *http.ServeMux
}

var _ http.Handler = (*Console)(nil)

// New makes the console of store, which srv serves, checking access by
// srv's tokens and grants.
func New(srv *server.Server, store ops.Backend, opts Options) (*Console, error) {
	if srv == nil || store == nil {
		return nil, errors.New("console: nil server or store")
	}
	if opts.Started.IsZero() {
		opts.Started = time.Now()
	}
	if opts.Request == 0 {
		opts.Request = 10 * time.Second
	}
	if opts.Request < 0 {
		return nil, errors.New("console: negative request time")
	}
	c := &Console{srv: srv, store: store, opts: opts, pages: map[string]*template.Template{}}
	for _, name := range []string{"streams", "stream", "event", "live", "kv", "key", "state", "login", "error"} {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("console: template %s: %w", name, err)
		}
		c.pages[name] = t
	}
	assets, err := fs.Sub(assetFS, "assets")
	if err != nil {
		return nil, err
	}
	c.mux = http.NewServeMux()
	c.mux.HandleFunc("GET "+Path+"{$}", c.page(c.streams))
	c.mux.HandleFunc("GET "+Path+"stream", c.page(c.stream))
	c.mux.HandleFunc("GET "+Path+"event", c.page(c.event))
	c.mux.HandleFunc("GET "+Path+"live", c.page(c.live))
	c.mux.HandleFunc("GET "+Path+"kv", c.page(c.kv))
	c.mux.HandleFunc("GET "+Path+"key", c.page(c.key))
	c.mux.HandleFunc("GET "+Path+"state", c.page(c.state))
	c.mux.HandleFunc("GET "+Path+"login", c.loginForm)
	c.mux.HandleFunc("POST "+Path+"login", c.login)
	c.mux.HandleFunc("POST "+Path+"logout", c.logout)
	c.mux.Handle("GET "+Path+"assets/", http.StripPrefix(Path+"assets/", assetHandler(http.FileServerFS(assets))))
	c.mux.HandleFunc(Path, c.notFound)
	return c, nil
}

// Mount makes the console of store and mounts it on srv at Path.
func Mount(srv *server.Server, store ops.Backend, opts Options) (*Console, error) {
	c, err := New(srv, store, opts)
	if err != nil {
		return nil, err
	}
	srv.Mount(Path, c)
	return c, nil
}

// ServeHTTP serves one page, with headers that keep the pages out of
// frames, caches and other origins' scripts.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	c.mux.ServeHTTP(w, r)
}

func assetHandler(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		h.ServeHTTP(w, r)
	})
}

// view is what a page's template gets.
type view struct {
	Title   string
	Nav     string   // the menu entry of the page
	Who     string   // the token's name, "" without tokens
	Grants  []string // the token's grants as the tokens file writes them
	SignOut bool     // the browser holds the token cookie
	Status  int
	Data    any
	Login   *loginView // the sign-in form on a refusal page
}

// handlerFunc is a page: it fills v from the request, or fails with an
// error that the error page explains.
type handlerFunc func(ctx context.Context, r *http.Request, acc server.Access, q url.Values, v *view) (tmpl string, err error)

// page authenticates the request, reads its query and renders what h
// makes of it.
func (c *Console) page(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		acc, err := c.srv.Authenticate(r)
		if err != nil {
			c.refuse(w, r, err)
			return
		}
		q, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			c.fail(w, r, acc, badRequest("the query string does not decode: %v", err))
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), c.opts.Request)
		defer cancel()
		v := &view{Who: acc.Name(), Grants: grantList(acc), SignOut: hasCookie(r), Status: http.StatusOK}
		name, err := h(ctx, r, acc, q, v)
		if err != nil {
			c.fail(w, r, acc, err)
			return
		}
		c.render(w, name, v)
	}
}

// grantList is the access's grants as written in a tokens file ("read
// orders/", "delete orders/", "admin").
func grantList(acc server.Access) []string {
	var out []string
	for _, g := range acc.Grants() {
		out = append(out, g.String())
	}
	return out
}

func hasCookie(r *http.Request) bool {
	ck, err := r.Cookie(server.TokenCookie)
	return err == nil && ck.Value != ""
}

func (c *Console) render(w http.ResponseWriter, name string, v *view) {
	var b strings.Builder
	if err := c.pages[name].Execute(&b, v); err != nil {
		http.Error(w, "console: render "+name+": "+err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(v.Status)
	_, _ = w.Write([]byte(b.String()))
}

// pageError is a refusal the error page explains: its status, a title and
// the reason.
type pageError struct {
	Status int
	Title  string
	Reason string
}

func (e *pageError) Error() string { return e.Title + ": " + e.Reason }

func badRequest(format string, args ...any) error {
	return &pageError{Status: http.StatusBadRequest, Title: "Bad request", Reason: fmt.Sprintf(format, args...)}
}

func notFound(format string, args ...any) error {
	return &pageError{Status: http.StatusNotFound, Title: "Not found", Reason: fmt.Sprintf(format, args...)}
}

// explain turns an error into what the error page shows.
func explain(err error) *pageError {
	var (
		pe        *pageError
		invalid   *ops.InvalidError
		forbidden *server.ForbiddenError
		expired   *server.ExpiredError
	)
	switch {
	case errors.As(err, &pe):
		return pe
	case errors.As(err, &invalid):
		field := invalid.Field
		if field == "" {
			field = "the request"
		}
		return &pageError{Status: http.StatusBadRequest, Title: "Bad request", Reason: fmt.Sprintf("%s: %s", field, invalid.Reason)}
	case errors.As(err, &forbidden):
		return &pageError{Status: http.StatusForbidden, Title: "Forbidden",
			Reason: fmt.Sprintf("Your token lacks the grant %q.", forbidden.Grant)}
	case errors.As(err, &expired):
		return &pageError{Status: http.StatusUnauthorized, Title: "Token expired",
			Reason: fmt.Sprintf("The token expired at %s. Sign in with a current token.", expired.At.UTC().Format(time.RFC3339))}
	case errors.Is(err, server.ErrUnauthorized):
		return &pageError{Status: http.StatusUnauthorized, Title: "Sign in",
			Reason: "This server needs a token, and the request had none it knows."}
	case errors.Is(err, ops.ErrClosed), errors.Is(err, server.ErrShuttingDown):
		return &pageError{Status: http.StatusServiceUnavailable, Title: "Unavailable", Reason: "The store is closed or the server is shutting down."}
	case errors.Is(err, context.DeadlineExceeded):
		return &pageError{Status: http.StatusGatewayTimeout, Title: "Timeout", Reason: "The store did not answer in time."}
	}
	return &pageError{Status: http.StatusInternalServerError, Title: "Error", Reason: err.Error()}
}

// fail renders the error page of err.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, acc server.Access, err error) {
	pe := explain(err)
	v := &view{Title: pe.Title, Who: acc.Name(), Grants: grantList(acc), SignOut: hasCookie(r), Status: pe.Status, Data: pe}
	if pe.Status == http.StatusUnauthorized {
		v.Login = &loginView{Next: nextPath(r)}
		w.Header().Set("WWW-Authenticate", `Bearer realm="persist"`)
	}
	c.render(w, "error", v)
}

// refuse answers a request whose token the server does not take: 401 with
// the reason and a sign-in form; a cookie holding that token is cleared.
func (c *Console) refuse(w http.ResponseWriter, r *http.Request, err error) {
	if hasCookie(r) && r.Header.Get("Authorization") == "" {
		http.SetCookie(w, clearCookie(r))
	}
	c.fail(w, r, server.Access{}, err)
}

func (c *Console) notFound(w http.ResponseWriter, r *http.Request) {
	acc, err := c.srv.Authenticate(r)
	if err != nil {
		c.refuse(w, r, err)
		return
	}
	switch strings.TrimPrefix(r.URL.Path, Path) {
	case "", "stream", "event", "live", "kv", "key", "state", "login", "logout":
		c.fail(w, r, acc, &pageError{Status: http.StatusMethodNotAllowed, Title: "Method not allowed",
			Reason: fmt.Sprintf("%s does not take %s.", r.URL.Path, r.Method)})
		return
	}
	c.fail(w, r, acc, notFound("The console has no page %s.", r.URL.Path))
}

// perform performs one operation on the store.
func perform[R any](ctx context.Context, c *Console, op effect.Op[R]) (R, error) {
	return effect.Perform(effect.Handle(ctx, c.store), op)
}

// Query parameters.

// limitParam reads the page size: 1 to max, def when absent.
func limitParam(q url.Values, def, max int) (int, error) {
	s := q.Get("limit")
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > max {
		return 0, badRequest("limit %q: want a number of rows from 1 to %d.", s, max)
	}
	return n, nil
}

// seqParam reads a seq (or position): a decimal number from 1, 0 when
// absent.
func seqParam(q url.Values, name string) (uint64, error) {
	s := strings.TrimSpace(q.Get(name))
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n == 0 {
		return 0, badRequest("%s %q: want a number from 1.", name, s)
	}
	return n, nil
}

// link is path with the query of the name and value pairs kv, leaving out
// empty values.
func link(path string, kv ...any) string {
	q := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		k := fmt.Sprint(kv[i])
		var v string
		switch x := kv[i+1].(type) {
		case string:
			v = x
		case uint64:
			if x != 0 {
				v = strconv.FormatUint(x, 10)
			}
		case int:
			if x != 0 {
				v = strconv.Itoa(x)
			}
		default:
			v = fmt.Sprint(x)
		}
		if v != "" {
			q.Set(k, v)
		}
	}
	if len(q) == 0 {
		return Path + path
	}
	return Path + path + "?" + q.Encode()
}

var funcs = template.FuncMap{
	"link":     link,
	"when":     formatTime,
	"whenISO":  func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) },
	"preview":  func(b []byte) string { return preview(b, 120) },
	"bytes":    formatBytes,
	"path":     func(p string) string { return Path + p },
	"pageSize": func() []int { return []int{20, 50, 100, 500} },
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05.000 UTC")
}

func formatBytes(n int64) string {
	switch {
	case n < 1<<10:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	case n < 1<<30:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
}
