package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"time"

	"rose-ash.com/persist/backends/file"
	"rose-ash.com/persist/server"
)

var serveCmd = &command{
	name:    "serve",
	args:    "[--listen ADDR] [--cert FILE --key FILE]",
	summary: "serve the store over HTTP to many processes (the wire protocol)",
	detail: `
Opens the data directory (creating the store when absent) and serves it
over HTTP/1.1 and HTTP/2 with the wire protocol of package server: one
operation per request in SX or JSON (POST /v1/op), batches (POST
/v1/batch), live follows as Server-Sent Events (GET /v1/follow), and
/healthz and /readyz. It prints the address it listens on to stderr, then
one log line per request. Without tokens it listens only on loopback. On
SIGTERM or SIGINT it stops taking requests, lets those in flight finish,
ends every follow with a position to resume from, closes the store and
exits 0.`,
	example: `  persist serve --listen 127.0.0.1:7070
  curl -s -H 'Content-Type: application/x-sx' -d '(persist/head {:stream "orders"})' http://127.0.0.1:7070/v1/op`,
	flags: func(fs *flag.FlagSet) func(context.Context, *Main, *globals, []string) error {
		listen := fs.String("listen", "127.0.0.1:7070", "`ADDR` to listen on (host:port; port 0 picks a free one)")
		cert := fs.String("cert", "", "TLS certificate `FILE` (PEM); with --key, serve https")
		key := fs.String("key", "", "TLS private key `FILE` (PEM)")
		grace := fs.Duration("grace", 30*time.Second, "how long shutdown waits for requests in flight")
		return func(ctx context.Context, m *Main, g *globals, args []string) error {
			if len(args) != 0 {
				return usagef("serve", "takes no arguments, got %d", len(args))
			}
			if (*cert == "") != (*key == "") {
				return usagef("serve", "--cert and --key go together")
			}
			return m.serve(ctx, g, serveConfig{listen: *listen, cert: *cert, key: *key, grace: *grace})
		}
	},
}

type serveConfig struct {
	listen, cert, key string
	grace             time.Duration
}

func (m *Main) serve(ctx context.Context, g *globals, cfg serveConfig) error {
	b, err := m.open(ctx, g, true)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(m.Stderr, nil))
	srv, err := server.New(b, server.Options{
		Logger:      log,
		Unavailable: []error{file.ErrFailed, file.ErrReadOnly},
	})
	if err != nil {
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
	fmt.Fprintf(m.Stderr, "persist: serving %s on %s://%s\n", g.dir, scheme, ln.Addr())
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
