// Package console is the web console of persist serve: pages, rendered on
// the server, to look at a store from a browser: its streams, their
// events, the global log live, the kv keys and the store's state.
//
// # Pages
//
// Everything is under /console/ (Path) on the server, and a browser asking
// for "/" is sent there:
//
//	/console/                    streams: paged (?after=NAME&limit=N), filtered by name
//	                             prefix (?prefix=P), with each one's head and the time of its
//	                             last event
//	/console/stream?name=S       a stream's events, newest first (?order=oldest for oldest
//	                             first), from a seq (?from=N: jump to it), N a page (?limit=N)
//	/console/event?stream=S&seq=N  one event whole: id, seq, position, type, time, and its data
//	                             pretty-printed as SX (?as=json for JSON)
//	/console/live[?stream=S]     the last events of a stream, or of the global log, and every
//	                             event appended from then on, as it arrives
//	/console/kv                  keys: paged and filtered by prefix as streams are, with
//	                             revision and a preview of the value
//	/console/key?key=K           one key's value, pretty-printed, and its revision
//	/console/state               the store: backend, uptime, the global log's position and the
//	                             figures the backend reports (Options.State: for the file
//	                             store its segments, bytes, commits and syncs, and the reports
//	                             of the recovery at open and of the last one that changed the
//	                             directory)
//	/console/login               the sign-in form (POST /console/login, POST /console/logout)
//
// Pages are html/template, which escapes every value by its context, so
// an event whose data holds <script> shows that text. The stylesheet and
// the one script are embedded in the binary. The only script is the live
// tail: it opens the protocol's own follow endpoint (GET /v1/follow, with
// as=json) as an EventSource and puts each event in as text; every other
// page works without it. Pages send a Content-Security-Policy that allows
// only the console's own script and stylesheet and keep the page out of
// frames, send the Referer only within the server, and are never cached.
//
// A page costs the same however large the store is: a list asks the
// backend for one page of names (persist/streams, persist/kv-list) and one
// event per listed stream for its last-write time; a stream's page is one
// persist/read. The pager goes forward by name (after the last one shown)
// and back to the first page; a stream's pages go both ways by seq.
//
// # Access
//
// The console takes the server's tokens and grants and applies them as
// the protocol does: a page needs the grant its operations need (read S
// for a stream's pages and its live tail, read on the empty prefix for the
// global log, kv-read for keys, admin for the store's state, as /metrics).
// Lists are cut to what the token may read: a token with read orders/ and
// read users/ that lists every stream sees the streams under those two
// prefixes, merged in name order, and the page says so. A page the token
// lacks the grant for is 403, naming the grant. Every page, a refusal
// included, lists the signed-in token's grants beside its name, as the
// tokens file writes them, and a stream's page says which of read, write
// and delete (hard delete) the token holds for that stream. The delete
// grant opens no page: it allows a tombstone, not a read, so a token that
// holds only delete S is refused S's pages as the protocol refuses its
// reads. The console offers no writing action; the grants it shows are
// for the operations the protocol takes.
//
// A browser presents its token in the persist_token cookie
// (server.TokenCookie), which the sign-in form sets: HttpOnly, so no
// script reads it; SameSite=Strict, so no request from another site
// carries it; Secure when the server speaks TLS; for the path "/", so that
// the follow endpoint gets it too; and ending when the token expires. The
// Authorization header ("Bearer <token>") works as on the API and comes
// first. The cookie is read only on GET requests, which change nothing; the
// only forms that post (sign in, sign out) are refused when the browser
// says they came from another origin (Origin, Sec-Fetch-Site). Without
// tokens configured on the server every page is open.
//
// # Errors
//
// A request the console cannot answer gets a page that says why, with the
// status of the protocol's error of the same kind, never a stack trace:
// 400 for a malformed parameter (a prefix that is not UTF-8 or holds a NUL,
// a seq that is not a number, a page size out of range, a query string that
// does not decode), naming it; 401 with the sign-in form for no token, an
// unknown one or an expired one (saying so, and clearing a cookie that
// holds it); 403 naming the missing grant; 404 for a stream with no events
// (the store does not tell an empty stream from an absent one), a seq past
// a stream's head (naming the head), a key that is absent, or an unknown
// page; 503 when the store is closed; 504 when it does not answer within
// Options.Request.
package console
