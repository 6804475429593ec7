package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"rose-ash.com/persist/backends/blobdir"
	"rose-ash.com/persist/backends/ipfs"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/remote"
)

var blobCmd = &command{
	name:    "blob",
	summary: "put, get and stat blobs in a content-addressed blob store",
	detail: `
Blobs (images, media) live in a blob store, apart from the event store;
events and kv values hold only their reference, {:cid … :size … :type …}.
The store is a local directory (--blob-dir, env PERSIST_BLOB_DIR, default
./persist-blobs) or an IPFS node (--ipfs, env PERSIST_IPFS: its Kubo RPC
API, with --ipfs-gateway, env PERSIST_IPFS_GATEWAY, for reads; the
gateway defaults to port 8080 of the API's host), or, with --server and
neither of those, the blob store of that persist server (persist serve
--blobs DIR or --ipfs URL), the bytes streamed both ways. All give the
same CID for the same bytes, and every read is checked against the CID.`,
	example: `  persist blob put avatar.png --type image/png
  persist blob get bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am > out.png
  persist blob stat bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am
  persist --server http://127.0.0.1:7070 blob put photo.jpg --type image/jpeg`,
	sub: []*command{blobPutCmd, blobGetCmd, blobStatCmd},
}

// blobFlags are the flags that choose the blob store.
type blobFlags struct {
	dir, api, gateway *string
}

func registerBlobFlags(fs *flag.FlagSet) blobFlags {
	return blobFlags{
		dir:     fs.String("blob-dir", "", "the blob store's `DIR` (env PERSIST_BLOB_DIR, default ./persist-blobs)"),
		api:     fs.String("ipfs", "", "an IPFS node's Kubo RPC `URL` to use as the blob store (env PERSIST_IPFS)"),
		gateway: fs.String("ipfs-gateway", "", "the trustless gateway `URL` to read blobs from (env PERSIST_IPFS_GATEWAY)"),
	}
}

func (f blobFlags) open(ctx context.Context, m *Main, g *globals, cmd string) (ops.BlobStore, error) {
	if g.kind == onServer && *f.dir == "" && *f.api == "" && *f.gateway == "" {
		// The server's blob store, streamed over its blob endpoints.
		return remote.Dial(g.server, remote.Options{Token: g.token})
	}
	pick := func(flagVal, env string) string {
		if flagVal != "" {
			return flagVal
		}
		return m.getenv(env)
	}
	dir, api, gw := pick(*f.dir, "PERSIST_BLOB_DIR"), pick(*f.api, "PERSIST_IPFS"), pick(*f.gateway, "PERSIST_IPFS_GATEWAY")
	if api != "" || gw != "" {
		if *f.dir != "" {
			return nil, usagef(cmd, "--blob-dir and --ipfs name two blob stores: give one")
		}
		if gw == "" {
			gw = strings.Replace(api, ":5001", ":8080", 1)
		}
		return ipfs.New(ipfs.Options{API: api, Gateway: gw})
	}
	if dir == "" {
		dir = "./persist-blobs"
	}
	return blobdir.OpenDir(ctx, dir, blobdir.Options{})
}

func blobRecord(r ops.BlobRef) record {
	rec := record{{"cid", r.CID.String()}, {"size", r.Size}}
	if r.MediaType != "" {
		rec = append(rec, field{"type", r.MediaType})
	}
	return rec
}

var blobPutCmd = &command{
	name:    "put",
	args:    "FILE [--type MEDIA-TYPE]",
	summary: "store a file's bytes (- for standard input) and print its reference",
	example: `  persist blob put avatar.png --type image/png`,
	flags: func(fs *flag.FlagSet) func(context.Context, *Main, *globals, []string) error {
		bf := registerBlobFlags(fs)
		mediaType := fs.String("type", "", "the blob's media `TYPE`, kept in the reference")
		return func(ctx context.Context, m *Main, g *globals, args []string) error {
			if len(args) != 1 {
				return usagef("blob put", "want one FILE, got %d arguments", len(args))
			}
			s, err := bf.open(ctx, m, g, "blob put")
			if err != nil {
				return err
			}
			defer s.Close()
			body := m.Stdin
			if args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return fmt.Errorf("blob put: %w", err)
				}
				defer f.Close()
				body = f
			} else if body == nil {
				return usagef("blob put", "no standard input to read")
			}
			ref, err := effect.Perform(effect.Handle(ctx, s), ops.BlobPut{Body: body, MediaType: *mediaType})
			if err != nil {
				return err
			}
			return writeOne(m, g, blobRecord(ref))
		}
	},
}

func parseBlobCID(cmd string, args []string) (ops.BlobRef, error) {
	if len(args) != 1 {
		return ops.BlobRef{}, usagef(cmd, "want one CID, got %d arguments", len(args))
	}
	c, err := ops.ParseCID(args[0])
	if err != nil {
		return ops.BlobRef{}, usagef(cmd, "%v", err)
	}
	return ops.BlobRef{CID: c}, nil
}

var blobGetCmd = &command{
	name:    "get",
	args:    "CID",
	summary: "write a blob's bytes to standard output, each checked against the CID first",
	detail: `
Bytes that do not match the CID are never written: the command stops with
an error and a non-zero exit, having written only checked bytes.`,
	example: `  persist blob get bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am > out.png`,
	flags: func(fs *flag.FlagSet) func(context.Context, *Main, *globals, []string) error {
		bf := registerBlobFlags(fs)
		return func(ctx context.Context, m *Main, g *globals, args []string) error {
			ref, err := parseBlobCID("blob get", args)
			if err != nil {
				return err
			}
			s, err := bf.open(ctx, m, g, "blob get")
			if err != nil {
				return err
			}
			defer s.Close()
			_, err = effect.Perform(effect.Handle(ctx, s), ops.BlobGet{CID: ref.CID, To: m.Stdout})
			if errors.Is(err, ops.ErrBlobNotFound) {
				return fmt.Errorf("blob get %s: %w", ref.CID, ErrNotFound)
			}
			return err
		}
	},
}

var blobStatCmd = &command{
	name:    "stat",
	args:    "CID",
	summary: "print a stored blob's reference (CID and size)",
	example: `  persist blob stat bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am -o json`,
	flags: func(fs *flag.FlagSet) func(context.Context, *Main, *globals, []string) error {
		bf := registerBlobFlags(fs)
		return func(ctx context.Context, m *Main, g *globals, args []string) error {
			ref, err := parseBlobCID("blob stat", args)
			if err != nil {
				return err
			}
			s, err := bf.open(ctx, m, g, "blob stat")
			if err != nil {
				return err
			}
			defer s.Close()
			st, err := effect.Perform(effect.Handle(ctx, s), ops.BlobStat{CID: ref.CID})
			if errors.Is(err, ops.ErrBlobNotFound) {
				return fmt.Errorf("blob stat %s: %w", ref.CID, ErrNotFound)
			}
			if err != nil {
				return err
			}
			return writeOne(m, g, blobRecord(st))
		}
	},
}
