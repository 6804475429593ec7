package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"rose-ash.com/persist/backends/blobdir"
	"rose-ash.com/persist/backends/file"
	"rose-ash.com/persist/backends/ipfs"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/platform"
	"rose-ash.com/persist/server"
	"rose-ash.com/persist/server/console"
	"rose-ash.com/persist/sx"
)

var serveCmd = &command{
	writes:  true,
	name:    "serve",
	args:    "[--listen ADDR] [--tokens FILE] [--cert FILE --key FILE] | --mint NAME --grant G... [--expires DURATION]",
	summary: "serve the store over HTTP to many processes (the wire protocol)",
	detail: `
Opens the data directory (creating the store when absent), or with --pg
the PostgreSQL store (creating its schema when absent), and serves it
over HTTP/1.1 and HTTP/2 with the wire protocol of package server: one
operation per request in SX or JSON (POST /v1/op), batches (POST
/v1/batch), many operations in flight on one request (POST /v1/pipe),
live follows and kv watches as Server-Sent Events (GET /v1/follow, GET
/v1/kv-watch), and
/healthz, /readyz and /metrics (Prometheus), and, given a blob store
(--blobs DIR, or --ipfs URL for an IPFS node), blobs streamed in and out
(POST /v1/blob, GET and HEAD /v1/blob/CID); and a web console for
browsers under /console/ (streams, events, live tail, keys, the store's
state; sign in with a token). It prints the address it
listens on to stderr, then its log: warnings and failed requests; with
--log-level debug also one line per request (a pipe, POST /v1/pipe, is one
request however many operations it carries).

--tokens names a file of bearer tokens and their grants (SX or JSON), kept
as SHA-256 hashes, never the secrets:
  [{:name "feed" :sha256 "<hex>" :grants ["read feed/" "write feed/" "kv-read feed/"]}]
A grant is read, write, kv-read, kv-write or delete (hard deletes of
streams) with a name prefix (none: every name), blob-read or blob-write (no
prefix), or admin; an entry may end
with :expires "<RFC 3339 time>", after which the token is refused. --mint
NAME --grant G... [--expires DURATION] draws a new token, prints its
secret (once) and the entry to add to the tokens file, and exits. Without
tokens the server listens only on loopback.

On SIGTERM or SIGINT it stops taking requests, lets those in flight
finish, ends every follow with a position to resume from, closes the store
and exits 0.`,
	example: `  persist serve --listen 127.0.0.1:7070
  persist serve --listen 127.0.0.1:7070 --blobs ./persist-blobs
  persist serve --mint feed --grant 'read feed/' --grant 'write feed/'
  persist serve --mint visitor --grant 'read orders/' --expires 24h
  persist serve --listen :7070 --tokens tokens.sx --cert cert.pem --key key.pem
  curl -s -H 'Content-Type: application/x-sx' -d '(persist/head {:stream "orders"})' http://127.0.0.1:7070/v1/op`,
	flags: func(fs *flag.FlagSet) func(context.Context, *Main, *globals, []string) error {
		listen := fs.String("listen", "127.0.0.1:7070", "`ADDR` to listen on (host:port; port 0 picks a free one)")
		cert := fs.String("cert", "", "TLS certificate `FILE` (PEM); with --key, serve https")
		key := fs.String("key", "", "TLS private key `FILE` (PEM)")
		grace := fs.Duration("grace", 30*time.Second, "how long shutdown waits for requests in flight")
		tokens := fs.String("tokens", "", "tokens `FILE`: bearer tokens (hashed) and their grants")
		mint := fs.String("mint", "", "draw a new token called `NAME`, print it and its tokens-file entry, and exit")
		blobs := fs.String("blobs", "", "serve a blob store in the local `DIR` (created when absent) on /v1/blob")
		ipfsAPI := fs.String("ipfs", "", "serve a blob store on the IPFS node whose Kubo RPC API is at `URL`")
		ipfsGW := fs.String("ipfs-gateway", "", "the trustless gateway `URL` of --ipfs (default: port 8080 of its host)")
		blobMax := fs.Int64("blob-max", 0, "the largest blob in `BYTES` /v1/blob takes (default 4 GiB)")
		logLevel := fs.String("log-level", "info", "`LEVEL` of the log on stderr: debug (one line per request), info, warn or error")
		expires := fs.Duration("expires", 0, "with --mint: the token expires after `DURATION` (such as 720h); 0 never")
		var grants grantList
		fs.Var(&grants, "grant", "a `GRANT` of the token --mint draws (repeatable): read|write|kv-read|kv-write|delete PREFIX, blob-read, blob-write, or admin")
		return func(ctx context.Context, m *Main, g *globals, args []string) error {
			if len(args) != 0 {
				return usagef("serve", "takes no arguments, got %d", len(args))
			}
			if *mint != "" {
				if *expires < 0 {
					return usagef("serve", "--expires %s is negative", *expires)
				}
				return m.mintToken(*mint, grants, *expires)
			}
			if len(grants) > 0 || *expires != 0 {
				return usagef("serve", "--grant and --expires go with --mint")
			}
			var toks []server.Token
			if *tokens != "" {
				b, err := os.ReadFile(*tokens)
				if err != nil {
					return err
				}
				if toks, err = server.ParseTokens(b); err != nil {
					return fmt.Errorf("%s: %w", *tokens, err)
				}
			}
			if (*cert == "") != (*key == "") {
				return usagef("serve", "--cert and --key go together")
			}
			if *blobs != "" && *ipfsAPI != "" {
				return usagef("serve", "--blobs and --ipfs name two blob stores: give one")
			}
			if *ipfsGW != "" && *ipfsAPI == "" {
				return usagef("serve", "--ipfs-gateway goes with --ipfs")
			}
			if *blobMax < 0 {
				return usagef("serve", "--blob-max is negative")
			}
			var level slog.Level
			if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
				return usagef("serve", "--log-level %q: want debug, info, warn or error", *logLevel)
			}
			return m.serve(ctx, g, serveConfig{listen: *listen, cert: *cert, key: *key, grace: *grace, tokens: toks,
				blobDir: *blobs, ipfsAPI: *ipfsAPI, ipfsGateway: *ipfsGW, blobMax: *blobMax, logLevel: level})
		}
	},
}

type serveConfig struct {
	listen, cert, key string
	grace             time.Duration
	tokens            []server.Token
	// The blob store, if any: a directory or an IPFS node.
	blobDir, ipfsAPI, ipfsGateway string
	blobMax                       int64
	logLevel                      slog.Level
}

// openBlobs opens the blob store serve was given, or none.
func (cfg serveConfig) openBlobs(ctx context.Context) (ops.BlobStore, error) {
	switch {
	case cfg.blobDir != "":
		return blobdir.OpenDir(ctx, cfg.blobDir, blobdir.Options{MaxBytes: cfg.blobMax})
	case cfg.ipfsAPI != "":
		gw := cfg.ipfsGateway
		if gw == "" {
			gw = strings.Replace(cfg.ipfsAPI, ":5001", ":8080", 1)
		}
		return ipfs.New(ipfs.Options{API: cfg.ipfsAPI, Gateway: gw, MaxBytes: cfg.blobMax})
	}
	return nil, nil
}

// meteredFile is the file store with its syncs counted: a handler in
// front of the operating system counts the fdatasync and fsync effects the
// store performs, so that /metrics shows them beside the store's figures.
type meteredFile struct {
	*fileStore
	syncs atomic.Uint64
	count effect.Handler
	// commits0 is the commits in the log when the server started, so that
	// commits per sync counts the same span as syncs.
	commits0 uint64
}

func meter(f *fileStore) *meteredFile {
	mf := &meteredFile{fileStore: f, commits0: f.store.Stats().Commits}
	mf.count = effect.HandlerFunc(func(p *effect.P, e effect.Effect) (any, error) {
		switch e.(type) {
		case platform.Fdatasync, platform.Fsync, platform.SyncDir:
			mf.syncs.Add(1)
		}
		return nil, effect.ErrUnhandled
	})
	return mf
}

// Handle answers as fileStore.Handle does, through the counter.
func (mf *meteredFile) Handle(p *effect.P, e effect.Effect) (any, error) {
	ctx := context.Background()
	if _, ok := e.(ops.Wait); ok && p != nil {
		ctx = p.Context()
	}
	return mf.store.Handle(effect.Handle(ctx, mf.count, mf.os), e)
}

// collectors are the store's figures for Prometheus. Commits per sync
// (the group-commit size) is the rate of persist_store_commits over the
// rate of persist_store_syncs_total.
func (mf *meteredFile) collectors() []prometheus.Collector {
	stat := func(name, help string, f func(st file.Stats) float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help},
			func() float64 { return f(mf.store.Stats()) })
	}
	return []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "persist_store_syncs_total", Help: "fdatasync, fsync and directory syncs the file store performed.",
		}, func() float64 { return float64(mf.syncs.Load()) }),
		stat("persist_store_commits", "Commits in the store's log.", func(st file.Stats) float64 { return float64(st.Commits) }),
		stat("persist_store_events", "Events in the store.", func(st file.Stats) float64 { return float64(st.Events) }),
		stat("persist_store_log_bytes", "Bytes of records in all segments.", func(st file.Stats) float64 { return float64(st.LogBytes) }),
		stat("persist_store_segments", "Log segments.", func(st file.Stats) float64 { return float64(st.Segments) }),
		stat("persist_store_failed", "1 when the store refuses writes after an IO error.", func(st file.Stats) float64 {
			if st.Failed {
				return 1
			}
			return 0
		}),
	}
}

// consoleState is the file store's figures for the console's state page.
func (mf *meteredFile) consoleState(ctx context.Context) ([]console.Section, error) {
	st := mf.store.Stats()
	n := func(v any) string { return fmt.Sprint(v) }
	store := console.Section{Title: "Log", Rows: []console.Row{
		{Name: "Segments", Value: n(st.Segments)},
		{Name: "Bytes in segments", Value: n(st.LogBytes)},
		{Name: "Last LSN", Value: n(st.LSN)},
		{Name: "Streams", Value: n(st.Streams)},
		{Name: "Events", Value: n(st.Events)},
		{Name: "Kv keys", Value: n(st.KvKeys)},
		{Name: "Kv revision", Value: n(st.Revision)},
		{Name: "Snapshots", Value: n(st.Snapshots)},
		{Name: "Refuses writes after an IO error", Value: n(st.Failed)},
	}}
	syncs := mf.syncs.Load()
	commits := st.Commits - min(st.Commits, mf.commits0)
	per := "—"
	if syncs > 0 {
		per = fmt.Sprintf("%.2f", float64(commits)/float64(syncs))
	}
	group := console.Section{Title: "Group commit (since the server started)", Rows: []console.Row{
		{Name: "Commits", Value: n(commits)},
		{Name: "Syncs (fdatasync, fsync, directory)", Value: n(syncs)},
		{Name: "Commits per sync", Value: per},
		{Name: "Commits in the log", Value: n(st.Commits)},
	}}
	out := []console.Section{store, group, recoverySection("Recovery at open", mf.store.Recovery(), time.Time{})}
	last, found, err := file.ReadLastRecovery(effect.Handle(ctx, mf.os), mf.store.Dir())
	switch {
	case err != nil:
		out = append(out, console.Section{Title: "Last recovery that changed the directory", Rows: []console.Row{{Name: "Error", Value: err.Error()}}})
	case found:
		out = append(out, recoverySection("Last recovery that changed the directory", last.Report, last.At))
	default:
		out = append(out, console.Section{Title: "Last recovery that changed the directory", Rows: []console.Row{{Name: "None", Value: "no recovery has had to change the directory"}}})
	}
	return out, nil
}

func recoverySection(title string, r file.RecoveryReport, at time.Time) console.Section {
	n := func(v any) string { return fmt.Sprint(v) }
	var rows []console.Row
	if !at.IsZero() {
		rows = append(rows, console.Row{Name: "At", Value: at.UTC().Format(time.RFC3339Nano)})
	}
	rows = append(rows,
		console.Row{Name: "New directory", Value: n(r.Created)},
		console.Row{Name: "Segments scanned", Value: n(r.Segments)},
		console.Row{Name: "Records", Value: n(r.Records)},
		console.Row{Name: "Commits replayed", Value: n(r.Commits)},
		console.Row{Name: "Events replayed", Value: n(r.Events)},
		console.Row{Name: "LSN", Value: n(r.LSN)},
		console.Row{Name: "Started from checkpoint LSN", Value: n(r.Checkpoint)},
		console.Row{Name: "Checkpoints skipped", Value: n(r.CheckpointsSkipped)},
		console.Row{Name: "Segment roll finished", Value: n(r.Rolled)},
	)
	if r.RollUndone != "" {
		rows = append(rows, console.Row{Name: "Segment roll undone", Value: r.RollUndone})
	}
	if len(r.RemovedTmp) > 0 {
		rows = append(rows, console.Row{Name: "Temporary files removed", Value: fmt.Sprint(r.RemovedTmp)})
	}
	if r.Truncated != nil {
		t := r.Truncated
		rows = append(rows, console.Row{Name: "Torn tail cut", Value: fmt.Sprintf("%d bytes of %s from offset %d (%s); kept in %s", t.Bytes, t.File, t.Offset, t.Reason, t.KeptIn)})
	}
	if r.Duration > 0 {
		rows = append(rows, console.Row{Name: "Took", Value: r.Duration.String()})
	}
	return console.Section{Title: title, Rows: rows}
}

// grantList collects repeated --grant flags.
type grantList []server.Grant

func (l *grantList) String() string { return fmt.Sprint([]server.Grant(*l)) }

func (l *grantList) Set(s string) error {
	g, err := server.ParseGrant(s)
	if err != nil {
		return err
	}
	*l = append(*l, g)
	return nil
}

// mintToken draws a token and prints its secret and its tokens-file entry.
func (m *Main) mintToken(name string, grants grantList, expires time.Duration) error {
	if len(grants) == 0 {
		return usagef("serve", "--mint needs at least one --grant")
	}
	secret, tok, err := server.NewToken(name, grants...)
	if err != nil {
		return err
	}
	if expires > 0 {
		tok.Expires = time.Now().Add(expires).UTC().Truncate(time.Second)
	}
	v, err := sx.FromGo(tok)
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "%s\n%s\n", secret, sx.Print(v))
	return nil
}

func (m *Main) serve(ctx context.Context, g *globals, cfg serveConfig) error {
	if g.kind == onServer {
		return usagef("serve", "%s: serve opens a store, a directory (--dir) or PostgreSQL (--pg), and does not relay another server", g.backendFlag())
	}
	b, err := m.open(ctx, g, true)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(m.Stderr, &slog.HandlerOptions{Level: cfg.logLevel}))
	var collectors []prometheus.Collector
	if f, ok := b.(*fileStore); ok {
		mf := meter(f)
		b, collectors = mf, mf.collectors()
	}
	blobs, err := cfg.openBlobs(ctx)
	if err != nil {
		_ = b.Close()
		return err
	}
	srv, err := server.New(b, server.Options{
		Logger:      log,
		Collectors:  collectors,
		Tokens:      cfg.tokens,
		Unavailable: []error{file.ErrFailed, file.ErrReadOnly},
		Blobs:       blobs,
		Limits:      server.Limits{Blob: cfg.blobMax},
	})
	if err != nil {
		_ = b.Close()
		if blobs != nil {
			_ = blobs.Close()
		}
		return err
	}
	copts := console.Options{Backend: g.where(), Started: time.Now()}
	if mf, ok := b.(*meteredFile); ok {
		copts.Backend, copts.State = "file store in "+g.where(), mf.consoleState
	}
	if _, err := console.Mount(srv, b, copts); err != nil {
		_ = b.Close()
		return err
	}
	if err := srv.CheckListen(cfg.listen); err != nil {
		_ = b.Close()
		return err
	}
	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		_ = b.Close()
		return fmt.Errorf("listen %s: %w", cfg.listen, err)
	}
	scheme := "http"
	if cfg.cert != "" {
		scheme = "https"
	}
	fmt.Fprintf(m.Stderr, "persist: serving %s on %s://%s\n", g.where(), scheme, ln.Addr())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln, cfg.cert, cfg.key) }()
	select {
	case err = <-served:
		// Serve failed on its own (a bad certificate, say).
		sctx, cancel := context.WithTimeout(context.Background(), cfg.grace)
		defer cancel()
		_ = srv.Shutdown(sctx)
		return err
	case <-ctx.Done():
	}
	fmt.Fprintln(m.Stderr, "persist: shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), cfg.grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	<-served
	fmt.Fprintln(m.Stderr, "persist: store closed")
	return nil
}
