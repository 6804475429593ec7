// Package blobdir is a blob store in a local directory: a content-addressed
// handler of package ops's blob operations whose every IO is a platform
// effect, so the mock platform can crash it at any point.
//
// # Layout
//
//	DIR/blobs/XY/CID   a blob's bytes, named by its CID (base32, "bafk…" or
//	                   "bafy…"); XY is the next-to-last two characters of
//	                   the CID (the flatfs "next-to-last/2" sharding of
//	                   IPFS), so no directory grows past 1,024 entries per
//	                   million blobs
//	DIR/tmp/R.tmp      a put being written (R random hex)
//
// A file under blobs holds exactly the blob's bytes: the directory can be
// read, copied and checked with ordinary tools ("ipfs add --cid-version=1
// --raw-leaves" of a file gives its name).
//
// # Put
//
// A put streams its body into a new file under tmp, a chunk (256 KiB) at a
// time, computing the CID as it goes (ops.BlobDAG); over the size limit it
// stops, removes the file and answers ops.ErrBlobTooLarge. At the end of the
// body it fsyncs the file, closes it, creates the shard directory when
// absent (syncing blobs/), renames the file to blobs/XY/CID (replacing a
// copy already there, so a put of the same bytes also mends a damaged copy)
// and fsyncs the shard directory. Only then does it answer:
// an answered put survives a crash. Before the rename a crash leaves only a
// file under tmp, which Open removes; the rename is atomic, so a name under
// blobs always holds a whole, synced blob.
//
// # Get
//
// Bytes read from disk are checked before they are written out: a blob of
// one chunk is read, hashed and compared with its CID, then written. A
// larger blob is read twice: the first pass computes its DAG and checks the
// root against the CID, keeping each leaf's CID (36 bytes per 256 KiB); the
// second reads each chunk again, compares its hash with the leaf's CID and
// only then writes it. So no byte is written that has not been tied to the
// CID, a damaged file is ops.ErrBlobMismatch naming the file, and memory
// stays at one chunk plus the leaf list. Has and Stat look at the name and
// size only; they do not read the bytes.
//
// # Decisions
//
//   - The store does not keep media types (see package ops): Get and Stat
//     answer references without one.
//   - Two puts of the same bytes at once both succeed; the second rename
//     replaces the first with the same bytes, so a blob is stored once.
//   - A file under blobs whose size differs from what its DAG records, or
//     whose name is not a CID, is never served: Get checks, and Open leaves
//     it alone (verify it with Get).
//   - Open creates DIR when absent, removes leftover tmp files and fsyncs the
//     directories it changed. Several stores may share a directory, across
//     processes too: every write is a rename of a unique tmp file.
package blobdir
