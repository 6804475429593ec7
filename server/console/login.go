package console

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"rose-ash.com/persist/server"
)

// loginView is the sign-in form: where to go after it, and why the last
// try was refused.
type loginView struct {
	Next   string
	Reason string
}

// nextPath is the console page a sign-in returns to: the request's own,
// when it is a console page.
func nextPath(r *http.Request) string {
	if r.Method != http.MethodGet {
		return Path
	}
	return safeNext(r.URL.RequestURI())
}

// safeNext keeps a return path within the console, so that the sign-in
// form cannot send a browser elsewhere.
func safeNext(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "" || u.Host != "" || !strings.HasPrefix(u.Path, Path) ||
		strings.HasPrefix(s, "//") || strings.Contains(s, "\\") || strings.HasPrefix(u.Path, Path+"login") {
		return Path
	}
	return u.RequestURI()
}

func (c *Console) loginForm(w http.ResponseWriter, r *http.Request) {
	v := &view{Title: "Sign in", Status: http.StatusOK, SignOut: hasCookie(r),
		Login: &loginView{Next: safeNext(r.URL.Query().Get("next"))}}
	if !c.srv.HasTokens() {
		v.Login.Reason = "This server has no tokens: every page is open without signing in."
	}
	c.render(w, "login", v)
}

// sameOrigin refuses a form posted from another site. A browser says
// where a request comes from in Sec-Fetch-Site, which a page cannot set;
// failing that (an older browser) in Origin. A client that sends neither
// is not a browser carrying someone else's cookie.
func sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" {
		return site == "same-origin" || site == "none"
	}
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && u.Host == r.Host
}

// login checks the posted token and, when the server knows it, sets the
// token cookie: HttpOnly (no script reads it), SameSite=Strict (no other
// site's request carries it), Secure over TLS, for the whole server so
// that the follow endpoint gets it too, and ending when the token does.
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		c.fail(w, r, server.Access{}, &pageError{Status: http.StatusForbidden, Title: "Forbidden",
			Reason: "The sign-in form was posted from another site."})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		c.fail(w, r, server.Access{}, badRequest("the form does not decode: %v", err))
		return
	}
	secret := strings.TrimSpace(r.PostForm.Get("token"))
	next := safeNext(r.PostForm.Get("next"))
	refuse := func(status int, reason string) {
		c.render(w, "login", &view{Title: "Sign in", Status: status, Login: &loginView{Next: next, Reason: reason}})
	}
	if secret == "" {
		refuse(http.StatusBadRequest, "Paste a token to sign in.")
		return
	}
	acc, err := c.srv.AccessOf(secret)
	if err != nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="persist"`)
		reason := "The server does not know that token."
		var expired *server.ExpiredError
		if errors.As(err, &expired) {
			reason = explain(err).Reason
		}
		refuse(http.StatusUnauthorized, reason)
		return
	}
	ck := &http.Cookie{Name: server.TokenCookie, Value: secret, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil}
	if exp := acc.Expires(); !exp.IsZero() {
		ck.Expires = exp
		ck.MaxAge = max(1, int(time.Until(exp).Seconds()))
	}
	http.SetCookie(w, ck)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// logout clears the token cookie.
func (c *Console) logout(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		c.fail(w, r, server.Access{}, &pageError{Status: http.StatusForbidden, Title: "Forbidden",
			Reason: "The sign-out form was posted from another site."})
		return
	}
	http.SetCookie(w, clearCookie(r))
	http.Redirect(w, r, Path+"login", http.StatusSeeOther)
}

func clearCookie(r *http.Request) *http.Cookie {
	return &http.Cookie{Name: server.TokenCookie, Value: "", Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil, MaxAge: -1}
}
