// Package ipfs is a blob store on the user's IPFS node: a handler of
// package ops's blob operations that adds and pins through Kubo's HTTP RPC
// and reads through a trustless gateway, checking every block it reads.
//
// # Writes: Kubo's RPC
//
// A put streams its body as multipart/form-data to
//
//	POST {API}/api/v0/add?cid-version=1&raw-leaves=true&chunker=size-262144&hash=sha2-256&pin=false&progress=false
//
// computing the CID by package ops's rule as the bytes go out (the body is
// never held whole), and reads the node's answer, one JSON object per file:
// {"Name": "blob", "Hash": "bafk…", "Size": "…"}. An error the node reports
// after it began answering (Kubo's X-Stream-Error trailer) fails the put. The
// node's CID must be the one the rule gives, or the put fails naming both:
// a node configured with another layout (Kubo's "unixfs-v1-2025" import
// profile, or a max-links setting other than 174) would make CIDs the local
// store does not, so the store refuses to record them. Only then does it
// pin: POST {API}/api/v0/pin/add?arg=CID, answered {"Pins": ["bafk…"]}. An
// unpinned leftover of a failed put is garbage the node's GC removes.
//
// # Reads: the trustless gateway
//
// Get and Stat fetch blocks one at a time from
//
//	GET {Gateway}/ipfs/{cid}?format=raw   (Accept: application/vnd.ipld.raw)
//
// root first, depth first (ops.ReadBlobDAG): each block is hashed and
// compared with the CID that named it before it is read, and a leaf's bytes
// are written only after that check, so no unverified byte is served, and
// any gateway, trusted or not, can serve the reads. A 404, 410 or 412 answer
// is ops.ErrBlobNotFound. Has asks the node whether it keeps the blob
// pinned: POST {API}/api/v0/pin/ls?arg=CID&type=recursive, answered
// {"Keys": {"bafk…": {"Type": "recursive"}}}, or an error whose message says
// the path is not pinned; without an API it asks the gateway whether it
// holds the root block (HEAD with Cache-Control: only-if-cached).
//
// # Errors
//
// A node that does not answer is an error matching ErrUnreachable naming the
// address; a node that answers with an error is an *RPCError carrying its
// status and message. The size limit (Options.MaxBytes) is checked as the
// body streams: the upload stops at the first byte over it.
//
// # Decisions
//
//   - Media types are not kept by the node (see package ops).
//   - Each operation runs under the context of the handle it is performed
//     on; Options.Client sets timeouts (the default client has none, as a
//     large blob can take long).
package ipfs
