// Command persist works on a persist store from the command line: it
// appends and reads events, follows streams, reads and changes the kv
// facet, and inspects, verifies and benchmarks the data directory.
//
// Usage:
//
//	persist [--dir DIR | --pg DSN | --server URL] [-o sx|json|table] SUBCOMMAND [ARGS]
//
//	persist append STREAM TYPE DATA [TYPE DATA ...] [--expect any|no-stream|exists|N] [--id UUID ...] [--lock-wait D]
//	persist read STREAM [--from N] [--limit N]
//	persist tail [-f] [-n N] STREAM | --all
//	persist streams [--prefix P]
//	persist kv get KEY
//	persist kv put KEY VALUE [--expect any|no-stream|exists|REV]
//	persist kv del KEY [--expect any|no-stream|exists|REV]
//	persist kv ls [--prefix P]
//	persist blob put FILE [--type MEDIA-TYPE] [--blob-dir DIR | --ipfs URL [--ipfs-gateway URL]]
//	persist blob get CID
//	persist blob stat CID
//	persist stat
//	persist verify
//	persist compact [--no-vacuum]    (--no-vacuum with --pg only)
//	persist export [FILE | -]
//	persist import FILE | -
//	persist migrate --from SRC --to DST [--from-schema S] [--to-schema S] [--lag N]
//	persist dump
//	persist bench [--duration D] [--events N] [--writers N] [--in DIR] [--keep]
//	persist serve [--listen ADDR] [--tokens FILE] [--blobs DIR | --ipfs URL] [--blob-max BYTES]
//	persist version
//	persist completion bash|zsh|fish
//	persist crashtest [--seed S] [--runs N] [--workload W] [--fault F] [--at K [--after] [--draw D]]
//
// Blobs (persist blob) go to a blob store of their own, never to the event
// store: a local content-addressed directory (--blob-dir, env
// PERSIST_BLOB_DIR, default ./persist-blobs) or an IPFS node (--ipfs, env
// PERSIST_IPFS, its Kubo RPC API; reads through --ipfs-gateway, env
// PERSIST_IPFS_GATEWAY, by default port 8080 of the API's host). blob put
// prints the reference to record in an event; blob get writes the bytes,
// each checked against the CID before it is written. With --server (and
// neither --blob-dir nor --ipfs) the blobs stream to and from the blob
// store of that server (persist serve --blobs DIR or --ipfs URL).
//
// export writes the whole store to a file in the versioned format of
// package transfer; import loads one into an empty directory or
// PostgreSQL schema, all of it or nothing; migrate moves a store between
// directories and PostgreSQL while it takes writes, fencing the source
// (docs/migration.md).
//
// The store is the file backend in the data directory --dir (env
// PERSIST_DIR, default ./persist-data). Commands that write (append, kv put,
// kv del) create it and open it for writing; one process at a time does
// that. A writer that finds another process holding the store waits for its
// lock, trying again every few milliseconds, for up to --lock-wait (env
// PERSIST_LOCK_WAIT, a duration such as 5s or 0; default 5s), so that two
// shell loops of "persist append" on one directory both succeed; out of
// time it fails naming the holder's pid, which the holder records in the
// LOCK file. Commands that only read (read, tail, streams, stat, kv get, kv ls,
// dump, verify) open it read-only, take no lock and write nothing, so they
// work beside a process that has the store open for writing (a running
// program, or "persist append" in another shell): they see what that
// process has written up to the moment they look, complete and checksummed
// records only. They refuse a missing directory, or one that holds no
// store, rather than answer from an empty store. A read-only open never
// recovers: a torn tail is cut, and leftover files removed, by the next
// writer. "persist tail -f STREAM" in one shell shows what "persist append"
// writes from another (it looks for new records every 50 ms). Flags may
// come before or after the positional arguments; "--" ends them (for data
// starting with "-"), and --dir, -o and --segment-size are accepted by
// every subcommand.
//
// # Other stores: --pg and --server
//
// --pg DSN (env PERSIST_PG) works on the PostgreSQL store at DSN (package
// postgres: a URL or key=value string as libpq takes), in the schema
// --pg-schema (env PERSIST_PG_SCHEMA, default "persist"), which is created
// or migrated on open, by any command, since PostgreSQL has no read-only
// open; errors name the DSN without its password. --server URL (env
// PERSIST_SERVER) works on the store that "persist serve" at URL serves
// (package remote), sending --token (env PERSIST_TOKEN) as the bearer
// token. The schema is a flag of its own rather than a search_path in the
// DSN, so that the DSN stays the one other tools use and the schema name is
// checked as package postgres checks it. At most one of --dir, --pg and
// --server may be given on the command line; without any, PERSIST_SERVER
// wins, then PERSIST_PG, then the directory; a flag always wins over the
// environment, and --pg-schema and --token are refused without the store
// they go with. The flags have no defaults shown in --help, so a password
// or a token in the environment is never printed.
//
// Every command that performs operations (append, read, tail and tail -f,
// streams, kv get|put|del|ls, stat's counts) prints the same records and
// exits with the same status on every store; --lock-wait applies to a data
// directory only. stat shows only streams, events and kv keys on another
// store (the segment, byte and recovery figures are the file backend's).
// verify, dump, bench and crashtest work on a data directory only and
// refuse --pg and --server (or the environment variable that chose them)
// with a usage error naming it. "persist serve --pg DSN" serves a
// PostgreSQL store; serve refuses --server.
//
// compact works the other way round: with --pg it runs the PostgreSQL
// backend's Compact (delete what retention hides, then vacuum), on a data
// directory the file backend's (rewrite the sealed segments, the hidden
// commits left as holes), opening it for writing as append does, and it
// refuses --server with a usage error, since compaction is a task of the
// host that holds the store and not an operation of the wire protocol (a
// client cannot hold the store still while it copies).
//
// # Data and values
//
// Event data and kv values are given as one SX literal ({:order 17},
// [1 2 3], "text", 42) or one JSON literal ({"order": 17}); @FILE reads the
// literal from a file and @- from standard input, at most the 1 MiB limit
// of one event's data or kv value (a longer one is refused with the limit
// named, after reading one byte past it). The literal is checked to parse
// (as JSON, or else as SX; text that is not valid UTF-8 is neither) and
// then stored byte for byte as given, so Go programs that store JSON and
// the command line share one encoding.
//
// Output shows stored bytes as a value, by the one rule of package sx
// (sx.FromJSON, sx.ToJSON): in SX output (the default) JSON bytes are shown
// as the equal SX value (objects as dicts with string keys, arrays as
// vectors, null as nil) and SX bytes as themselves; with -o json the data
// is JSON whichever way it was written: JSON bytes as stored, SX bytes as
// their JSON form ({:order 17} as {"order":17}, keywords and symbols as
// strings of their names, lists as arrays), so that "persist -o json read
// orders | jq .data.order" gives 17 for both. SX that has no JSON form
// (NaN, a dict with number keys) is shown as its text under "data_sx"
// ("value_sx"). Bytes that are neither (written by a program) are shown in
// base64 under data-base64 (data_base64).
//
// # Output
//
// Every command prints one record per line: an SX dict by default
// ({:seq 1 :stream "orders" ...}, keys in canonical order), or a JSON object
// with -o json (keys in snake_case, sorted as in SX output; every value
// encoded by encoding/json from a typed value, lists as arrays), or with
// -o table the rows of a table under a header of the field names, values in
// SX notation (text without quotes). Times are RFC 3339 in UTC.
//
// # Errors and exit status
//
// An error is one line on stderr, "persist: ...", and a non-zero exit
// status that scripts can branch on (persist --help lists them):
//
//	0  done
//	1  an error: IO, damage, a missing store or key, data over the limit
//	2  a command line that does not make sense (unknown subcommand or flag,
//	   wrong arguments, a malformed literal)
//	3  a conflict: an --expect that the store refused whole, nothing written
//	4  busy: another process held the store open for writing longer than
//	   --lock-wait
//	5  a reused event ID: an --id already stored in the stream for another
//	   event (ops.ErrDuplicateID), nothing written
//
// A reused ID has a status of its own rather than the conflict's: a
// conflict says the store moved (read and decide again), a reused ID says
// the ID belongs to another event, which reading again does not mend. A
// retry of a whole stored append with the same IDs is not a reuse: it
// succeeds with the original answer. --id values are read with
// ops.ParseEventID, which refuses the nil UUID (status 2).
//
// Everything is checked before the store is opened, so a refused command
// writes nothing. --help prints the
// usage of any subcommand, with an example, on stdout. tail -f ends with
// status 0 when interrupted. When stderr is a terminal, and only then,
// crashtest, verify and dump (when its records go elsewhere than the
// terminal) draw a live progress line on it (within a
// second of starting, redrawn ten times a second, erased at the end; drawn
// by github.com/schollz/progressbar), and bench prints a line as each
// workload starts.
//
// # Bench
//
// bench measures four workloads on a fresh directory made beside the data
// directory (200-byte events): W1 one writer, one event per durable append;
// W2 64 writers on their own streams; W3 1,000,000 events in appends of
// 1,000; W4 the replay of W3's stream. Each is set against the raw limit of
// the same disk measured in the same run on a preallocated plain file
// (fdatasync per event; group-committed fdatasyncs shared by the writers;
// one fdatasync per 1,000 events; the replay of that file), and printed as
// events/s and as the ratio to that limit. The raw W3 writes a framed log,
// each event one record framed as persist frames its records (32-byte
// frame, CRC-32C, chain, LSN, padding to 8 bytes), and the raw W4 reads it
// back in 1 MiB reads, decoding every frame and checking every checksum,
// chain link and LSN: a log reader's work, not a bare file read. persist's
// W4 reads pages of 1,000 events (the page of Scan and Read) into a page
// it lends (ops.Read.Page), as a replay that only looks at events does;
// copy-events-per-sec is the copying read of the same events. W4 runs
// each of the three replays 5 times, alternating them, and reports the
// medians.
//
// # Completion
//
// persist completion bash|zsh|fish prints the shell's completion script. It
// is made by github.com/spf13/cobra (the library of gh, etcdctl and
// kubectl), which also answers the script's questions ("persist __complete
// ARGS..."): the command keeps its own parser, and cobra is handed a tree
// of the same commands and flags, so completion offers exactly what the
// parser accepts, with stream names and kv keys read from the store in
// --dir, opened read-only.
//
// # Reproducible output
//
// When PERSIST_TEST_CLOCK holds an RFC 3339 time, the store's clock is
// fixed at it, so that scripts can compare output byte for byte.
package main
