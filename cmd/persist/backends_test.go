package main

import (
	"bytes"
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/backends/mem"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/server"
)

// runEnv runs a command line with the environment env and returns stdout,
// stderr and the exit code.
func runEnv(t *testing.T, env map[string]string, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	m := &Main{Stdout: &out, Stderr: &errb, Getenv: func(k string) string { return env[k] }}
	code := m.ExitCode(m.Run(context.Background(), args))
	return out.String(), errb.String(), code
}

func TestBackendFlagsAtMostOne(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"--dir", dir, "--pg", "postgres://x/y", "read", "s"},
		{"read", "s", "--pg", "postgres://x/y", "--server", "http://127.0.0.1:1"},
		{"--server", "http://127.0.0.1:1", "kv", "get", "k", "--dir", dir},
	} {
		_, errs, code := runEnv(t, nil, args...)
		assert.Equal(t, exitUsage, code, "%v: %s", args, errs)
		assert.Contains(t, errs, "give at most one of --dir, --pg and --server", args)
	}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--pg", "", "read", "s"}, "--pg is empty"},
		{[]string{"--server", "", "read", "s"}, "--server is empty"},
		{[]string{"--token", "t", "read", "s"}, "--token goes with --server"},
		{[]string{"--pg-schema", "t", "--dir", dir, "read", "s"}, "--pg-schema goes with --pg"},
	}
	for _, c := range cases {
		_, errs, code := runEnv(t, nil, c.args...)
		assert.Equal(t, exitUsage, code, "%v: %s", c.args, errs)
		assert.Contains(t, errs, c.want, c.args)
	}
}

// The file-only commands refuse another store, naming the flag or the
// environment variable that chose it; a flag on the command line wins over
// the environment.
func TestFileOnlyCommandsRefuseOtherStores(t *testing.T) {
	dir := t.TempDir()
	for _, cmd := range [][]string{{"verify"}, {"dump"}, {"bench"}, {"crashtest"}} {
		for _, flag := range []string{"--pg", "--server"} {
			args := append([]string{flag, "http://127.0.0.1:1"}, cmd...)
			_, errs, code := runEnv(t, nil, args...)
			assert.Equal(t, exitUsage, code, "%v: %s", args, errs)
			assert.Contains(t, errs, "persist: "+cmd[0]+": "+flag+": ", args)
		}
	}
	env := map[string]string{envPG: "postgres://x/y", envServer: "http://127.0.0.1:1", envDir: dir}
	_, errs, code := runEnv(t, env, "verify")
	assert.Equal(t, exitUsage, code, errs)
	assert.Contains(t, errs, "verify: PERSIST_SERVER: ", "PERSIST_SERVER ranks above PERSIST_PG")
	delete(env, envServer)
	_, errs, code = runEnv(t, env, "verify")
	assert.Equal(t, exitUsage, code, errs)
	assert.Contains(t, errs, "verify: PERSIST_PG: ")
	_, errs, code = runEnv(t, env, "verify", "--dir", dir)
	assert.Equal(t, exitError, code, "an explicit --dir wins: %s", errs)
	assert.Contains(t, errs, "no store there")

	_, errs, code = runEnv(t, nil, "serve", "--server", "http://127.0.0.1:1")
	assert.Equal(t, exitUsage, code, errs)
	assert.Contains(t, errs, "serve: --server: ")
}

func TestReusedIDAndNilID(t *testing.T) {
	h := newHarness(t)
	a, b := "6f1c1a62-8a4e-4d3b-9d5e-2b7f0c1e9a10", "0b8e4a52-1c2d-4e5f-8a9b-0c1d2e3f4a5b"
	h.ok("append", "s", "t", "1", "--id", a)
	msg := h.fail(exitDupID, "append", "s", "t", "2", "t", "3", "--id", b, "--id", a)
	assert.Contains(t, msg, "event id "+a+" (events[1]) is already stored")
	msg = h.fail(exitUsage, "append", "s", "t", "2", "--id", "00000000-0000-0000-0000-000000000000")
	assert.Contains(t, msg, `--id "00000000-0000-0000-0000-000000000000": the nil UUID is not an event ID`)
	head, err := h.store.Head(ops.Head{Stream: "s"})
	require.NoError(t, err)
	assert.Equal(t, uint64(1), head, "nothing written by the refused appends")
}

// Every command that performs operations gives the same output and exit
// status through a server as on the store the server serves.
func TestServerSameAsLocal(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	clock := mem.WithClock(func() time.Time { return at })
	counter := func() mem.Option {
		n := byte(0)
		return mem.WithIDs(func() uuid.UUID { n++; return uuid.UUID{15: n} })
	}
	local := newHarness(t)
	local.store = mem.New(clock, counter())
	local.b = local.store
	t.Cleanup(func() { _ = local.store.Close() })

	served := mem.New(clock, counter())
	secret, tok, err := server.NewToken("all", server.Grant{Kind: server.GrantAdmin})
	require.NoError(t, err)
	srv, err := server.New(served, server.Options{Tokens: []server.Token{tok}})
	require.NoError(t, err)
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	t.Cleanup(func() { _ = served.Close() })
	env := map[string]string{envServer: hs.URL, envToken: secret}

	id := "6f1c1a62-8a4e-4d3b-9d5e-2b7f0c1e9a10"
	lines := [][]string{
		{"append", "orders", "placed", "{:order 17}", "paid", `{"order": 17}`, "--id", id},
		{"append", "orders", "placed", "{:order 17}", "paid", `{"order": 17}`, "--id", id},
		{"append", "orders", "shipped", "{:order 17}", "--expect", "no-stream"},
		{"append", "orders", "x", "1", "y", "2", "--id", "0b8e4a52-1c2d-4e5f-8a9b-0c1d2e3f4a5b", "--id", id},
		{"append", "audit", "seen", "[1 2 3]"},
		{"read", "orders"},
		{"-o", "json", "read", "orders", "--from", "2"},
		{"tail", "-n", "1", "orders"},
		{"tail", "--all"},
		{"streams"},
		{"kv", "put", "k", "{:v 1}"},
		{"kv", "put", "k", "{:v 2}", "--expect", "7"},
		{"kv", "get", "k"},
		{"kv", "get", "missing"},
		{"-o", "table", "kv", "ls"},
		{"kv", "del", "k", "--expect", "1"},
		{"kv", "ls"},
		{"stat"},
	}
	codes := map[int]bool{}
	for _, args := range lines {
		wantOut, wantErr, wantCode := local.run(context.Background(), "", args...)
		out, errs, code := runEnv(t, env, args...)
		assert.Equal(t, wantCode, code, "%v: %s", args, errs)
		assert.Equal(t, wantOut, out, args)
		assert.Equal(t, wantErr, errs, args)
		codes[code] = true
	}
	assert.Equal(t, map[int]bool{exitOK: true, exitError: true, exitConflict: true, exitDupID: true}, codes,
		"the lines cover success, a missing key, a conflict and a reused ID")

	// A wrong token is refused, and writes nothing.
	env[envToken] = "wrong"
	_, errs, code := runEnv(t, env, "append", "orders", "t", "1")
	assert.Equal(t, exitError, code, errs)
	assert.Contains(t, strings.ToLower(errs), "unauthorized")
	head, err := served.Head(ops.Head{Stream: "orders"})
	require.NoError(t, err)
	assert.Equal(t, uint64(2), head)
}
