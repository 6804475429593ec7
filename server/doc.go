// Package server is the server side of persist's wire protocol: it makes a
// store (any ops.Backend) a service that many processes, in any language,
// share over HTTP, with bearer tokens, grants, limits and Prometheus
// metrics. Package remote is the Go client.
//
// This comment is the protocol. A client author should be able to
// implement it from here alone; an SX kernel host should be able to
// implement perform over it in an afternoon.
//
// # Transport
//
// HTTP/1.1 or HTTP/2. Over TLS (the server is given a certificate and a
// key) HTTP/2 is negotiated by ALPN; over cleartext the server speaks
// HTTP/1.1 and HTTP/2 with prior knowledge (h2c), meant for loopback.
// Every request but the health checks carries a bearer token,
// "Authorization: Bearer <token>", when the server has tokens configured
// (see Access control). A request may carry "X-Request-Id"; the server
// echoes it, or makes one, in the answer's X-Request-Id header and in its
// log lines.
//
// # Notations and media types
//
// A request body and an answer are written in one of two notations:
//
//	SX    Content-Type: application/x-sx    (UTF-8 SX data notation, package sx)
//	JSON  Content-Type: application/json    (RFC 8259)
//
// The request's Content-Type names the notation of its body (a missing one
// means SX). The answer is in the notation the Accept header names
// (application/x-sx or application/json), or failing that in the
// request's notation. Both notations are one conversion apart: an
// operation is converted to SX as sx.FromGo converts its descriptor (the
// same text interp's trace prints), and the JSON form is sx.ToJSON of that
// SX value. So the two carry exactly the same fields under the same names.
//
// # Operations
//
// An operation is the list of its SX name and a dict of its fields, the
// fields named in kebab case after the Go descriptor's (FirstSeq is
// :first-seq); a field left out is its zero value, an unknown field is an
// error. In JSON it is the array of the name and an object. Every
// operation of package ops is served:
//
//	persist/append         {:stream S :expect E :events [{:id U :type T :data D} ...]}
//	persist/commit         {:appends [<append fields> ...] :kv [{:key K :value V :delete B :expect E} ...]}
//	persist/read           {:stream S :from N :limit N}
//	persist/read-all       {:from N :limit N}
//	persist/head           {:stream S}
//	persist/streams        {:prefix P :after A :limit N}
//	persist/wait           {:stream S :after N :timeout NANOSECONDS}
//	persist/kv-get         {:key K}
//	persist/kv-put         {:key K :value V :expect E}
//	persist/kv-delete      {:key K :expect E}
//	persist/kv-list        {:prefix P :after A :limit N}
//	persist/snapshot-read  {:name N}
//	persist/snapshot-write {:snapshot {:name N :version N :seq N :value V}}
//	persist/snapshot-names (no fields: every snapshot's name, in byte order)
//	persist/now            (no fields: (persist/now), ["persist/now"])
//	persist/stream-meta-read     {:stream S}
//	persist/stream-meta-write    {:stream S :expect E :meta {:max-count N :max-age NANOSECONDS :truncate-before N}}
//	persist/stream-delete        {:stream S :expect E :hard B}
//	persist/kv-history           {:key K :limit N}
//	persist/kv-watch             {:prefix P :from REVISION :limit N}
//	persist/kv-wait              {:after REVISION :timeout NANOSECONDS}
//	persist/snapshot-generations {:name N}
//	persist/stat                 (no fields: what the store holds, visible against stored)
//
// (snapshot-read also takes :generation N, snapshot-write :keep N, as
// package ops has them.) The retention operations are served as far as
// the store beneath answers them; one that does not answers 500 error
// naming the unhandled effect. Their meaning is package ops': what a
// stream's limits or deletion hide is left out of every read, the global
// log and every follow included; a read's answer carries :next, where to
// read on past hidden events.
//
// Values: an expectation E is the string "any", "no-stream", "exists" or
// the decimal head or revision ("3"); an event ID is a UUID string (left
// out, the store draws one; written out, it is read with ops.ParseEventID,
// so the nil UUID is refused with 400 naming the field, events[I].id); bytes (data, values) are a string when they
// are valid UTF-8 and otherwise (bytes "<base64>") in SX, ["bytes",
// "<base64>"] in JSON; times are RFC 3339 strings with nanoseconds, in
// UTC; durations are integers of nanoseconds. Numbers are integers that
// fit in int64.
//
// # One operation: POST /v1/op
//
// The body is one operation. The answer is 200 OK with the operation's
// result as sx.FromGo converts the Go result (an AppendResult is
// {:first-pos 1 :first-seq 1 :head 1 :last-pos 1 :stream "orders"}; the
// answer of kv-get for an absent key is nil, JSON null; snapshot-write
// answers {}), or an error (below). An SX exchange:
//
//	POST /v1/op HTTP/1.1
//	Content-Type: application/x-sx
//	Authorization: Bearer 4f1c...
//
//	(persist/append {:stream "orders" :expect "no-stream" :events [{:type "placed" :data "{:order 17}"}]})
//
//	HTTP/1.1 200 OK
//	Content-Type: application/x-sx
//
//	{:first-pos 1 :first-seq 1 :head 1 :last-pos 1 :stream "orders"}
//
// The same in JSON, and a conflict:
//
//	POST /v1/op HTTP/1.1
//	Content-Type: application/json
//
//	["persist/append",{"stream":"orders","expect":"0","events":[{"type":"placed","data":"{\"order\":17}"}]}]
//
//	HTTP/1.1 409 Conflict
//	Content-Type: application/json
//
//	{"actual":1,"error":"conflict","expected":"no-stream","message":"persist: conflict on stream \"orders\": expected no stream (head 0), actual head 1","stream":"orders"}
//
// An acknowledged write is durable as the store makes it (the file store:
// fsynced); the answer is written only after the store answered. A client
// that loses the connection before the answer does not know whether the
// write happened: it retries with the same event IDs and gets the
// original result (package ops, Idempotent appends).
//
// # Errors
//
// An error answer is a status code and a dict with :error, a kind, and
// :message, the Go error's text; each kind has fields of its own, the Go
// error's fields:
//
//	400 invalid      {:op O :field F :reason R}   the operation breaks a rule (an *ops.InvalidError),
//	                                              or the body does not decode: :field names where
//	                                              (events[2].type), "body" when it does not read at all
//	400 unknown-op   {:op O}                      no operation has that name
//	401 unauthorized {}                           no token, or one the server does not know
//	403 forbidden    {:grant G}                   the token lacks grant G, such as "write orders/1"
//	404 not-found    {}                           no such endpoint
//	405 method       {}                           the endpoint takes another method
//	408 idle         {}                           (a pipe's end frame only) no frame within the idle limit
//	409 conflict     {:stream S :key K :expected E :actual N}   a failed expectation (an *ops.Conflict);
//	                                              :stream for an append, :key for a kv change
//	409 duplicate-id {:stream S :id U :seq N :index I} an append reusing the ID of the event stored at seq N of
//	                                              S, carried by its event I (an *ops.DuplicateIDError)
//	410 stream-deleted {:stream S}                a write to a hard-deleted stream (an *ops.StreamDeletedError)
//	410 compacted    {:revision R :compacted C}   a kv watch from a revision history dropped (an *ops.CompactedError)
//	413 too-large    {:limit L :max N}            the body, an event, or a batch is over a limit
//	415 notation     {}                           a Content-Type that is neither notation
//	429 too-many     {:limit L :max N}            too many follows open for this token
//	503 closed       {}                           the store is closed (ops.ErrClosed)
//	503 unavailable  {}                           the store cannot serve (it failed after an IO error) or
//	                                              the server is shutting down; retry elsewhere or later
//	504 timeout      {}                           the operation did not finish within the request time
//	500 error        {}                           anything else
//
// A refused request (401, 403, 413, 415, 429, a body that does not decode)
// has written nothing.
//
// # Several operations: POST /v1/batch
//
// The body is a vector of operations (a JSON array of them), at most the
// server's batch limit (64 by default). They are independent: they are
// performed at the same time, in no set order (so appends in one batch
// share the store's group commit), and each has its own answer; a batch
// is not atomic (a persist/commit is), and an operation that must follow
// another goes in a later request. The answer is 200 OK with a vector of
// the same length: {:ok <result>} for an operation that succeeded and the
// error dict for one that did not. A batch that does not decode, or is
// refused as a whole (too many operations, a token lacking a grant for
// any of them: nothing is performed then), is an error answer as above.
//
//	POST /v1/batch HTTP/1.1
//	Content-Type: application/x-sx
//
//	[(persist/head {:stream "orders"}) (persist/kv-get {:key "cfg"}) (persist/read {:stream ""})]
//
//	HTTP/1.1 200 OK
//	Content-Type: application/x-sx
//
//	[{:ok 1} {:ok nil} {:error "invalid" :field "stream" :message "persist/read: invalid stream: empty" :op "persist/read" :reason "empty"}]
//
// # Many operations on one stream: POST /v1/pipe
//
// A pipe carries any number of operations on one long-lived request, with
// many in flight at once, answered as they finish: the form for a client
// that performs many operations (package remote sends every operation
// but waits and blobs this way). The request body and the answer body are
// each a sequence of frames, one a line (a frame never holds a raw
// newline: both notations escape it), in the notation of the request's
// Content-Type (answers in the notation Accept names, as elsewhere). A
// client frame is the vector of an ID it chooses, a non-negative integer
// of at most 18 digits unique among its operations in flight, and an
// operation; a server frame is the ID and the operation's answer, {:ok
// <result>} or the error dict, exactly as in a batch:
//
//	POST /v1/pipe HTTP/1.1
//	Content-Type: application/x-sx
//	Transfer-Encoding: chunked
//
//	[1 (persist/append {:stream "orders" :events [{:type "placed"}]})]
//	[2 (persist/kv-get {:key "cfg"})]
//
//	HTTP/1.1 200 OK
//	Content-Type: application/x-sx
//
//	[2 {:ok nil}]
//	[1 {:ok {:first-pos 1 :first-seq 1 :head 1 :last-pos 1 :stream "orders"}}]
//
// In JSON a frame is [1,["persist/kv-get",{"key":"cfg"}]] and its answer
// [1,{"ok":null}]. The server answers the header at once (200, or an error
// answer as for /v1/op when the token is refused or the Content-Type is
// neither notation) and then reads frames while it writes answers, under
// HTTP/1.1 (full duplex) as under HTTP/2. The operations of a pipe are
// independent, as in a batch: they run at once, in no set order (appends
// sent together share a group commit), and an operation that must follow
// another is sent after the other's answer. Each operation is checked on
// its own: its grants (a missing one is its 403 forbidden answer, not the
// pipe's), the server's limits, the token's expiry, the request time. At
// most Limits.Pipe operations (256 by default) are in flight on a pipe:
// the server reads no further frame until one is answered. Answers that
// finish together are written and flushed together. A blank line is
// ignored.
//
// A pipe ends when the client ends its body (the server answers what is in
// flight, then ends the answer), or when the server ends it: on shutdown,
// after PipeIdle (120 s by default) without a frame, or at a frame that is
// not [ID OPERATION] on one line or reuses an ID in flight (an operation
// that does not decode is only that frame's 400 invalid answer). The
// server then reads no further frame, answers every frame it read, and
// writes the end frame, the ID nil (JSON null) and why:
//
//	[nil {:error "unavailable" :message "server: shutting down"}]
//	[nil {:error "idle" :message "server: pipe idle: no frame within the idle limit"}]
//	[nil {:error "invalid" :field "frame" :reason "want [ID OPERATION] on one line" :message "..."}]
//
// So an operation sent on a pipe and not answered before its end frame
// was not performed: a client sends it again on a new pipe. A pipe that
// breaks without an end frame leaves the operations in flight unknown, as
// any lost connection does (retry with the same event IDs). A client that
// wants an operation bounded by its own time limit stops waiting for its
// answer; the server still answers it.
//
// # Long poll: persist/wait
//
// persist/wait is an operation like the others, answered when the stream's
// head (the global log's last position, for the stream "") passes :after,
// or its :timeout elapses; persist/kv-wait the same for the store's kv
// revision. The server ends a wait at its own limit (the
// request time less a margin, 25 s by default; also when :timeout is 0)
// and answers it as a timeout, {:head N :passed false}: a client that
// wants to wait longer asks again. A client that goes away ends its wait.
//
// # Live follow: GET /v1/follow
//
//	GET /v1/follow?stream=orders&from=3&as=sx HTTP/1.1
//	Accept: text/event-stream
//
// follows the stream (or, without stream, the global log) from seq (or
// position) from, 1 when absent, as Server-Sent Events (the WHATWG
// EventSource format). Each event of the store is one SSE event whose id
// is its seq (its position, for the global log) and whose data is the
// event on one line in the notation as asks for (sx, the default, or
// json):
//
//	HTTP/1.1 200 OK
//	Content-Type: text/event-stream
//
//	id: 3
//	event: event
//	data: {:at "2026-12-01T21:50:00.000000001Z" :data "{:order 17}" :id "7b1c..." :pos 9 :seq 3 :stream "orders" :type "placed"}
//
//	: ping
//
//	event: end
//	data: {:next 4 :reason "shutdown"}
//
// Events come in order, none before it is durable. While there is nothing
// to send the server writes a comment line (": ping") every 15 s, so that
// both ends notice a dead connection. When the server shuts down it ends
// each follow with an end event whose :next is the first seq (position)
// not yet sent. Delivery is at least once: a client that reconnects sends
// "Last-Event-ID: <id>" (or from=<id+1>) and gets every event after that
// id, so an event may come twice but none is lost. The server keeps no
// state of a follower: the position is the client's.
//
// A follow never serves what a stream's limits or its deletion hide: it
// reads the store (which leaves hidden events out, and says by :next where
// to go on) until it has caught up with the head, and only then takes new
// events from the tail the follows of its source share; a change of a
// stream's metadata or a delete through the server drops those tails, so
// a follow behind reads the store again. Max-count and max-age hide
// events without any metadata write (every append moves the count on, the
// clock moves the age), so the tail is never trusted alone: each event a
// follow takes from it is checked, when it is sent, against its stream's
// state (ops.StreamState.Hides), and left out if hidden by then. The tail
// keeps each stream's state as it read it from the store when the stream
// first came by; a stream with no limits and no deletion whose state is
// under a second old costs no store read at send time. A stream with any
// is read once per batch a follow sends (its state and stored head, which
// max-count counts from), and the backend's clock (persist/now) once per
// batch when one has a max-age, so the decision is the store's own. A
// metadata write or delete through this server marks the stream's state
// stale at once; one made by another writer of a shared store (PostgreSQL)
// is seen within a second, when the state is read again: that is the
// bound within which a follow may still send an event such a change hid.
// Hidden events' ids are skipped, never reused: a follow resumed at a
// hidden id goes on at the next visible one.
//
// # Live kv watch: GET /v1/kv-watch
//
//	GET /v1/kv-watch?prefix=cfg/&from=12&as=sx HTTP/1.1
//	Accept: text/event-stream
//
// streams the changes of the keys starting with prefix (every key without
// one) from revision from on (0 or absent: the oldest revision the store's
// kv history holds whole), as Server-Sent Events, in revision order: each
// change is one event of kind change whose data is the change, and the
// last change of each revision carries the revision as its id (the changes
// of one commit share a revision; a change without an id line belongs to
// the revision whose id comes after it):
//
//	event: change
//	data: {:key "cfg/b" :revision 12 :value "2"}
//
//	id: 12
//	event: change
//	data: {:key "cfg/c" :revision 12 :value "3"}
//
//	id: 13
//	event: change
//	data: {:deleted true :key "cfg/a" :revision 13}
//
// It needs kv-read on prefix and counts as a follow against the follows
// limit. A client resumes with "Last-Event-ID: <revision>" (or
// from=<revision+1>) and gets every change after that revision: a commit
// cut off midway comes again whole. A watch from a revision history no
// longer holds is refused with 410 compacted before the answer starts, or,
// once it runs, ended with {:next C+1 :reason "compacted" :compacted C}:
// read the current state, then watch from C+1. It pings and ends on
// shutdown as a follow does.
//
// SSE rather than WebSocket: a follow is one-way, from the server; SSE is
// a plain HTTP response, so it runs over HTTP/1.1 and HTTP/2 alike
// (WebSocket over HTTP/2 needs RFC 8441, which few stacks have), through
// proxies and with the same token, limits and logs as every other request;
// resuming is built into the format (id and Last-Event-ID), and a client
// is a line reader (curl -N is one).
//
// # Blobs: POST /v1/blob, GET and HEAD /v1/blob/{cid}
//
// A server given a blob store (persist serve --blobs DIR or --ipfs URL)
// carries blobs as streams, never as one message; events and kv values
// hold only their references. The bytes are the body itself, not a
// notation:
//
//	POST /v1/blob HTTP/1.1
//	Content-Type: image/png
//	Content-Length: 5123
//
//	<the bytes>
//
//	HTTP/1.1 200 OK
//	Content-Type: application/x-sx
//
//	{:cid "bafkrei…" :size 5123 :type "image/png"}
//
// The body streams into the store as it arrives (in pieces, never held
// whole); the answer is the reference, in the notation Accept names (SX
// by default). The request's Content-Type is the media type kept in the
// reference (application/octet-stream, or none, keeps none). A body over
// the server's blob limit (Limits.Blob, default ops.DefaultMaxBlobBytes)
// is refused with 413 too-large {:limit "blob" :max N} as soon as the limit
// is passed (at once when Content-Length says so), and the store's own
// limit the same way, with :limit "blob"; nothing is stored then.
//
//	GET /v1/blob/bafkrei… HTTP/1.1
//
//	HTTP/1.1 200 OK
//	Content-Type: application/octet-stream
//	Content-Length: 5123
//	Persist-Blob-Cid: bafkrei…
//	Persist-Blob-Size: 5123
//
//	<the bytes>
//
// streams the blob out. The store checks every byte against the CID before
// the server writes it. When the stored bytes turn out not to match partway,
// the server cuts the answer short: it aborts the response (the connection
// closes under HTTP/1.1, the stream is reset under HTTP/2), so the body is
// shorter than Content-Length and the client's HTTP library reports an
// unexpected end. That is how a client tells: a body is good only when it
// is exactly Content-Length bytes long (a client may also hash them to the
// CID, as package remote does), and a body cut short is never good. To
// learn why it was cut, the client asks HEAD /v1/blob/{cid}?verify: the
// server reads the whole blob through the store's checks and answers 200,
// or 502 when the bytes do not match. A mismatch found before any byte is
// sent is an ordinary error answer, 502 blob-mismatch.
//
// HEAD /v1/blob/{cid} answers 200 with Persist-Blob-Size (a stat, and a
// has), or 404 when the store lacks the blob. The errors of the blob
// endpoints are the protocol's, and:
//
//	400 invalid        {:field "cid" :reason R}   a malformed CID, or one no blob store makes
//	404 blob-not-found {}                         the store does not have the blob
//	413 too-large      {:limit "blob" :max N}     the blob is over the server's (or the store's) limit
//	501 no-blob-store  {}                         the server was started without a blob store
//	502 blob-mismatch  {}                         the stored bytes do not match their CID
//
// A blob may take longer than the request time: each piece read or
// written pushes the connection's deadline out by the request time, so a
// transfer lasts as long as it keeps moving and a stalled one ends.
//
// # The SX host contract
//
// A kernel host implements perform for persist effects like this: when the
// machine suspends on (perform (persist/NAME {...})), print the performed
// value as it stands, a list of the operation's symbol and its field dict,
// and POST it to /v1/op with Content-Type application/x-sx; read the
// answer body as one SX value. (A host with many machines in flight may
// instead write [ID <the value>] lines on one pipe and resume each machine
// with the :ok of the answer carrying its ID; nothing else changes.) On 200, resume the machine (cek-resume)
// with that value; on any other status, resume it by raising the error
// dict (its :error kind says which, its fields say why), or retry: after a
// 503 or a lost connection, resend the same request (appends carry event
// IDs, so a retry is answered as the original). Every answer is data the
// reader of package sx reads; nothing else is needed.
//
// # Access control
//
// Tokens are configured with grants; the server keeps only their SHA-256
// hashes. A grant is one of
//
//	read PREFIX      read streams whose names start with PREFIX (read, head, wait,
//	                 follow, streams listing within PREFIX, snapshot-read of names within)
//	write PREFIX     append to those streams (also inside a commit), snapshot-write
//	kv-read PREFIX   kv-get and kv-list of keys starting with PREFIX
//	kv-write PREFIX  kv-put and kv-delete of those keys (also inside a commit)
//	delete PREFIX    hard-delete those streams (persist/stream-delete with :hard true)
//	blob-read        GET and HEAD of blobs (no prefix: a CID names bytes, not a place)
//	blob-write       POST of blobs
//	admin            everything, and /metrics
//
// A token may carry an expiry (:expires, an RFC 3339 time, in the tokens
// file): from then on it is refused with 401 unauthorized, its :message
// saying when it expired. A browser may present its token in the cookie
// persist_token (TokenCookie) instead of the Authorization header, on GET
// requests only (a follow, /metrics), which change nothing; the header
// comes first.
//
// The retention operations take the grants of what they touch:
// stream-meta-read and snapshot-generations read, stream-meta-write and a
// soft stream-delete write (a soft delete can be undone by appending, and
// limits only hide), kv-history and kv-watch kv-read of the key or
// prefix, kv-wait any kv-read grant (it shows only the store's kv
// revision, which every kv-watch answer carries too), and stat read on
// the empty prefix (it counts every stream). A hard delete leaves a
// tombstone for ever, so it needs a grant of its own, delete on the
// stream, which write does not imply; admin covers it.
//
// The empty prefix covers every name. The global log (read-all, a follow or
// a wait without a stream) needs read on the empty prefix, and so does
// persist/snapshot-names, which lists every snapshot; persist/now needs
// only a valid token. A commit needs a grant for every part. Without
// tokens configured the server allows everything and listens only on
// loopback addresses; it refuses to listen beyond loopback unless tokens
// are configured.
//
// # Pages beside the protocol
//
// Mount serves other handlers under a path of their own through the same
// request log, metrics and request IDs (persist serve mounts the web
// console, package console, at /console/); a browser asking for "/"
// (Accept naming text/html) is redirected there, while other clients get
// the protocol's 404.
//
// # Logs
//
// The Logger gets the server's own events at Info and above (a request
// that failed with a 5xx answer, at Warn) and one line per request at
// Debug, with its id, method, path, status and time: a pipe is one request
// however many operations it carries. Access and Authenticate let such pages check a
// request's token and grants by the rules above.
//
// # Limits
//
// Defaults, each configurable: a request body of at most 32 MiB; an
// event's data or a kv value of at most ops.MaxDataBytes (1 MiB); a batch of
// at most 64 operations; 64 follows open at once per token (per server
// without tokens); 256 operations in flight per pipe, which ends after
// 120 s without a frame; 30 s for a request (a follow and a pipe are
// exempt, while each operation of a pipe has it; a follow pings); HTTP
// header read 10 s, idle connections 120 s, headers of at most 64 KiB.
// A body over its limit is refused as soon as the limit is passed.
//
// # Health and metrics
//
// GET /healthz answers 200 while the process serves; GET /readyz answers
// 200 while the store answers and 503 once the server is shutting down or
// the store is closed. GET /metrics is Prometheus text from the server's
// own registry (admin grant needed when tokens are configured):
// persist_ops_total{op,outcome}, persist_op_seconds{op} (histogram),
// persist_appended_events_total, persist_appended_bytes_total,
// persist_followers (gauge), persist_auth_failures_total{reason},
// persist_http_requests_total{endpoint,code}, persist_inflight_requests,
// and the Go and process collectors (process_resident_memory_bytes). A
// store's own figures join through Options.Collectors: persist serve on a
// file store adds persist_store_syncs_total (fdatasync, fsync and
// directory syncs, counted by a handler in front of the operating system),
// persist_store_commits, persist_store_events, persist_store_log_bytes,
// persist_store_segments and persist_store_failed; the group-commit size is
// rate(persist_store_commits) / rate(persist_store_syncs_total).
//
// # Shutting down
//
// On Shutdown (persist serve: SIGTERM or SIGINT) the server stops taking
// connections, answers new requests on open connections with 503
// unavailable, lets the requests in flight finish (waits end early with
// their timeout answer), ends every follow with its end event, and only
// then closes the store. Nothing is acknowledged that the store did not
// acknowledge. Every connection open at Shutdown is told to go away, an
// HTTP/2 connection whose preface arrives while the server drains
// included, so a drain lasts as long as the longest request in flight.
//
// # Decisions where the design was silent
//
//   - Operations travel by their SX name and fields, converted by sx.FromGo
//     and sx.ToGo alone; JSON is the same value through sx.ToJSON and
//     sx.FromJSONGo. Event data stays bytes on the wire (a string, or
//     (bytes ...) when not UTF-8), never reinterpreted, so what a client
//     appends is what every reader gets back, byte for byte.
//   - A batch runs its operations concurrently, answers in their order;
//     it is refused whole when any operation lacks a grant, and otherwise
//     each operation succeeds or fails on its own.
//   - Snapshots are guarded by the stream grants of their name (a
//     projection's snapshot is usually named after what it folds).
//   - Listing streams or keys needs a grant covering the listed prefix;
//     the global log needs read on the empty prefix, since it shows every
//     stream.
//   - The data limit is the server's own, at most ops.MaxDataBytes; a
//     value over it is 413 too-large with :limit "data" (over
//     ops.MaxDataBytes it is the store's 400 invalid).
//   - Follows of one source share one tail of the store: the newest 4,096
//     events (at most 32 MiB of data, the newest page kept whatever its
//     size) are read once and framed once per notation, the whole SSE
//     event, for all of them; a follow further behind reads the store
//     itself until it catches up. No follower state outlives its
//     connection. A client with many follows may carry them over HTTP/2,
//     many to a connection.
//   - The operations of a batch or a pipe run at once on workers,
//     goroutines that outlive one operation and end after 5 s without
//     work. A pipe's frames are decoded on their workers, so a burst of
//     frames decodes at once; a pipe's reader only splits lines and IDs.
//   - A pipe's answers are written by whichever worker finishes first
//     while no write is under way, after letting the answers finished
//     with it (one group commit) join; the others add to its buffer, so a
//     burst of answers costs one write and one flush, and no goroutine
//     waits only to write.
//   - Blobs have grants of their own, without a prefix: a CID says what the
//     bytes are, not whose they are, so a reference in a stream a token may
//     read does not by itself let it read the bytes; blob-read is granted
//     to whoever may fetch any stored blob, and blob-write to whoever may
//     fill the store. Stream and kv grants do not cover blobs.
//   - Tokens are compared by the SHA-256 of the presented secret, so the
//     server never holds a secret, and a lookup's timing depends only on a
//     hash.
//   - The common operations (append, commit, read, kv-get, kv-put) are read
//     straight from their text, and the answers of append, commit, kv-put
//     and kv-get written straight into the response, when they are in the
//     plain form clients write (printable ASCII, known keys once, plain
//     digits); anything else, and every error, goes through the generic
//     SX reader and sx.FromGo, so both paths give the same answer to every
//     body.
package server
