// Package remote is the client side of persist's wire protocol (written out
// in package server's doc): a [Client] is an ops.Backend whose Handle sends
// each operation to a persist server and answers with the server's answer,
// so a program, the programs package and anything built on handlers run
// unchanged against a shared store by swapping the handler.
//
//	c, err := remote.Dial("http://127.0.0.1:7070", remote.Options{Token: tok})
//	...
//	r, err := interp.Run(ctx, prog, c)
//
// Errors come back as the Go errors they were on the server: a failed
// expectation as *ops.Conflict (with its expected and actual), an invalid
// operation as *ops.InvalidError naming the field, a closed store as
// ops.ErrClosed. What only the wire has is an *Error carrying the protocol's
// kind (matching ErrUnauthorized, ErrForbidden, ErrUnavailable), and a
// request that got no answer is an *UnreachableError: a write may or may
// not have happened, and a retry with the same event IDs is answered as
// the original.
//
// The Client is an ops.BlobStore too: the blob operations (put, get, has,
// stat) travel as streams on the server's blob endpoints, so a program's
// blob effects run against the server's blob store when the Client is its
// handler. A put streams the caller's reader as the request body; a get
// streams the answer to the caller's writer, and is good only when the
// body is as long as the server announced and hashes to the CID. A body
// the server cut short (it found stored bytes that do not match) is
// ErrBlobMismatch once a HEAD with verify confirms the mismatch, and an
// *UnreachableError when the connection broke instead. The server checks
// every byte before it sends it, so what reached the writer was checked;
// the client's own hash is a second check against a faulty path between.
//
// # Decisions
//
//   - The client does not retry on its own: whether a write may be sent
//     again is the program's decision (with event IDs it always may).
//   - persist/wait is sent again while the server ends it at its own limit
//     before the caller's timeout; a Wait with Timeout 0 waits until it
//     passes or the context ends, as on an embedded store.
//   - Close ends the client, not the store: operations in flight end with
//     ops.ErrClosed, and so does every later one. Every connection of the
//     client's own transport closes, one whose dial finishes after Close
//     too (a transport given in Options.HTTPClient is the caller's).
//   - An operation is validated (ops.Validate) before it is sent: an
//     invalid one is refused without a round trip, with the error the
//     server would give. The server validates again.
//   - Operations travel on a pipe (POST /v1/pipe): one long-lived request
//     per client whose body carries each operation as a frame with an ID
//     and whose answer carries the answers as they finish, so that
//     goroutines performing at the same time share one connection, one
//     write and one flush per burst, and the server's group commit, while
//     a lone operation pays one frame each way and no request. A caller
//     adds its frame to the pipe's buffer; the transport takes everything
//     buffered at once (after letting the callers woken by the same burst
//     of answers add theirs); the answers are split by ID on one reader and
//     decoded by their callers. persist/wait and blobs still go as requests
//     of their own. A pipe the server ends with its end frame (shutting
//     down, idle) left its unanswered operations unperformed: they are sent
//     again on a new pipe, up to three times; a pipe that breaks without one
//     answers them *UnreachableError. The pipe opens on the first operation
//     and again after it ends. Against a server without pipes (found by a
//     404 to POST, or, when the answer does not come within a second, to a
//     GET of /v1/pipe), or when a pipe's answer does not start within 10 s
//     (something between holds request bodies back), the client sends
//     each operation as its own request from then on.
//   - Options.NoPipe sends each operation as its own request (POST /v1/op),
//     and with Options.Gather operations that goroutines perform at the
//     same time together in batch requests, a few in flight at once. A
//     batch the server refuses whole for what some of its operations ask
//     (403 for a grant one lacks, 413 for a body over the limit together)
//     is sent again one operation a request, so each gets the answer it
//     would have had alone.
//   - Requests are SX unless Options.JSON is set; answers are read in
//     whichever notation the server answers in.
//   - The four common operations (append, commit, kv-put, kv-get) are
//     written, and their answers and a follow's events read, by a direct
//     path (fastop.go, fastanswer.go over package internal/plaintext) that
//     takes only the plain subset of either notation: printable-ASCII
//     strings escaping only " and \, plain digits, known keys once each.
//     Anything else, every error answer included, and an answer whose
//     Content-Type carries parameters, goes through the generic sx
//     encoder and decoder, so the results and errors are theirs;
//     randomized tests and fuzz targets hold the two paths to the same
//     bytes and values.
//   - [Client.Follow] follows over Server-Sent Events and reconnects by
//     itself from the last id it delivered, so its callback sees every
//     event at least once and in order, across server restarts.
package remote
