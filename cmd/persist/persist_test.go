package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/backends/file"
	"rose-ash.com/persist/backends/mem"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/sx"
)

// shared is a store that outlives each command: closing it through a
// command does nothing.
type shared struct{ ops.Backend }

func (shared) Close() error { return nil }

type harness struct {
	t     *testing.T
	store *mem.Store  // the store, when it is a mem store
	b     ops.Backend // the store every command opens
	dir   string
	opens int
}

func newHarness(t *testing.T) *harness {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	h := &harness{t: t, store: mem.New(mem.WithClock(func() time.Time { return at })), dir: t.TempDir()}
	h.b = h.store
	t.Cleanup(func() { _ = h.store.Close() })
	return h
}

// newFileHarness is a harness on the file backend, opened once for all
// its commands.
func newFileHarness(t *testing.T) *harness {
	dir := t.TempDir() + "/data"
	f, err := openFile(context.Background(), dir, file.Options{}, func(string) string { return "" })
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, f.Close()) })
	return &harness{t: t, b: f, dir: dir}
}

// run runs a command line and returns stdout, stderr and the exit code.
func (h *harness) run(ctx context.Context, stdin string, args ...string) (string, string, int) {
	h.t.Helper()
	var out, errb bytes.Buffer
	m := &Main{
		Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb,
		Getenv: func(k string) string {
			if k == "PERSIST_DIR" {
				return h.dir
			}
			return ""
		},
		Open: func(context.Context, string, bool) (ops.Backend, error) {
			h.opens++
			return shared{h.b}, nil
		},
	}
	code := m.ExitCode(m.Run(ctx, args))
	return out.String(), errb.String(), code
}

func (h *harness) ok(args ...string) string {
	h.t.Helper()
	out, errs, code := h.run(context.Background(), "", args...)
	require.Equal(h.t, 0, code, "persist %s: %s", strings.Join(args, " "), errs)
	assert.Empty(h.t, errs)
	return out
}

func (h *harness) fail(code int, args ...string) string {
	h.t.Helper()
	out, errs, got := h.run(context.Background(), "", args...)
	require.Equal(h.t, code, got, "persist %s: stdout %q stderr %q", strings.Join(args, " "), out, errs)
	assert.Empty(h.t, out)
	assert.Equal(h.t, 1, strings.Count(errs, "\n"), "one line on stderr: %q", errs)
	require.True(h.t, strings.HasPrefix(errs, "persist: "), errs)
	return strings.TrimSuffix(errs, "\n")
}

func readSX(t *testing.T, line string) *sx.Dict {
	t.Helper()
	v, err := sx.Read(line)
	require.NoError(t, err, line)
	d, ok := v.(*sx.Dict)
	require.True(t, ok, "%q is not a dict", line)
	return d
}

func get(t *testing.T, d *sx.Dict, key string) sx.Value {
	t.Helper()
	v, ok := d.Get(sx.Keyword(key))
	require.True(t, ok, "no %s in %s", key, sx.Print(d))
	return v
}

func TestAppendRead(t *testing.T) {
	h := newHarness(t)
	out := h.ok("append", "orders", "placed", "{:order 17 :total 42.5}", "paid", `{"order": 17}`)
	assert.Equal(t, "{:first-pos 1 :first-seq 1 :head 2 :last-pos 2 :stream \"orders\"}\n", out)

	lines := strings.Split(strings.TrimSpace(h.ok("read", "orders")), "\n")
	require.Len(t, lines, 2)
	first, second := readSX(t, lines[0]), readSX(t, lines[1])
	assert.Equal(t, "{:order 17 :total 42.5}", sx.Print(get(t, first, "data")))
	assert.Equal(t, `{"order" 17}`, sx.Print(get(t, second, "data")), "a JSON literal reads back as the equal SX value")
	assert.Equal(t, int64(2), get(t, second, "seq"))
	assert.Equal(t, "2026-01-02T03:04:05Z", get(t, first, "at"))

	// The stored bytes are the literal as given.
	res, err := h.store.Read(ops.Read{Stream: "orders"})
	require.NoError(t, err)
	assert.Equal(t, "{:order 17 :total 42.5}", string(res.Events[0].Data))
	assert.Equal(t, `{"order": 17}`, string(res.Events[1].Data))

	js := strings.Split(strings.TrimSpace(h.ok("-o", "json", "read", "orders", "--from", "2")), "\n")
	require.Len(t, js, 1)
	assert.Contains(t, js[0], `"data":{"order":17}`)
	assert.Contains(t, js[0], `"seq":2`)
	js = strings.Split(strings.TrimSpace(h.ok("read", "orders", "-o", "json", "--limit", "1")), "\n")
	require.Len(t, js, 1)
	assert.Contains(t, js[0], `"data":{"order":17,"total":42.5}`, "SX data as JSON")
}

func TestAppendExpectAndIDs(t *testing.T) {
	h := newHarness(t)
	id := "6f1c1a62-8a4e-4d3b-9d5e-2b7f0c1e9a10"
	h.ok("append", "s", "t", "1", "--expect", "no-stream", "--id", id)
	// A retry with the same ID answers the original result.
	assert.Equal(t, h.ok("read", "s"), h.ok("read", "s"))
	out := h.ok("append", "s", "t", "1", "--expect", "no-stream", "--id", id)
	assert.Contains(t, out, ":head 1")

	msg := h.fail(3, "append", "s", "t", "2", "--expect", "no-stream")
	assert.Equal(t, `persist: conflict on stream "s": expected no stream (head 0), actual head 1`, msg)
	msg = h.fail(2, "append", "s", "t", "2", "--expect", "soon")
	assert.Equal(t, `persist: append: --expect "soon": want any, no-stream, exists or a number`, msg)
	h.ok("append", "s", "t", "2", "--expect", "1")
	head, err := h.store.Head(ops.Head{Stream: "s"})
	require.NoError(t, err)
	assert.Equal(t, uint64(2), head)
}

func TestBadInputWritesNothing(t *testing.T) {
	h := newHarness(t)
	cases := []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"append", "s", "t", "{:a"}, 2, "persist: append: event 1 (t) data: not an SX or JSON literal: line 1, col 1: unterminated dict"},
		{[]string{"append", "s", "t"}, 2, "persist: append: want STREAM TYPE DATA [TYPE DATA ...], got 2 arguments"},
		{[]string{"append", "s", "t", "1", "u"}, 2, `persist: append: type "u" has no data`},
		{[]string{"append", "--bogus", "s", "t", "1"}, 2, "persist: append: flag provided but not defined: --bogus"},
		{[]string{"frobnicate"}, 2, `persist: unknown subcommand "frobnicate" (see persist --help)`},
		{[]string{}, 2, "persist: no subcommand (see persist --help)"},
		{[]string{"-o", "yaml", "streams"}, 2, `persist: streams: -o "yaml": want sx, json or table`},
		{[]string{"kv", "put", "k", "(1 2"}, 2, "persist: kv put: value: not an SX or JSON literal: line 1, col 1: unterminated list"},
		{[]string{"kv", "frob"}, 2, `persist: kv: unknown subcommand "frob" (see persist kv --help)`},
		{[]string{"append", "", "t", "1"}, 1, "persist: append: invalid stream: empty"},
	}
	for _, c := range cases {
		msg := h.fail(c.code, c.args...)
		if c.msg != "" {
			assert.Equal(t, c.msg, msg, "%v", c.args)
		}
	}
	assert.Equal(t, 0, h.opens, "a refused command line never opens the store")

	big := filepath.Join(t.TempDir(), "big.sx")
	require.NoError(t, os.WriteFile(big, []byte(`"`+strings.Repeat("a", ops.MaxDataBytes)+`"`), 0o644))
	msg := h.fail(1, "append", "s", "t", "@"+big)
	assert.Equal(t, "persist: append: event 1 (t) data: "+big+": over the limit of 1048576 bytes", msg)
	assert.Equal(t, 0, h.opens)
	res, err := h.store.Streams(ops.Streams{})
	require.NoError(t, err)
	assert.Empty(t, res.Streams)
}

func TestStdinLiteral(t *testing.T) {
	h := newHarness(t)
	_, errs, code := h.run(context.Background(), "[1 2 3]", "kv", "put", "k", "@-")
	require.Equal(t, 0, code, errs)
	assert.Equal(t, "{:key \"k\" :revision 1 :value [1 2 3]}\n", h.ok("kv", "get", "k"))
}

func TestKv(t *testing.T) {
	h := newHarness(t)
	assert.Equal(t, "{:existed false :key \"a\" :revision 1}\n", h.ok("kv", "put", "a", `"one"`, "--expect", "no-stream"))
	assert.Equal(t, `persist: conflict on key "a": expected the key absent, actual revision 1`, h.fail(3, "kv", "put", "a", `"two"`, "--expect", "no-stream"))
	h.ok("kv", "put", "a", `"two"`, "--expect", "1")
	h.ok("kv", "put", "b", "{:x nil}")
	assert.Equal(t, "{:key \"a\" :revision 2 :value \"two\"}\n", h.ok("kv", "get", "a"))
	assert.Equal(t, "{:key \"a\" :revision 2 :value \"two\"}\n{:key \"b\" :revision 3 :value {:x nil}}\n", h.ok("kv", "ls"))
	assert.Equal(t, "{:key \"b\" :revision 3 :value {:x nil}}\n", h.ok("kv", "ls", "--prefix", "b"))
	assert.Equal(t, `persist: conflict on key "b": expected revision 2, actual revision 3`, h.fail(3, "kv", "del", "b", "--expect", "2"))
	assert.Equal(t, "{:existed true :key \"b\" :revision 4}\n", h.ok("kv", "del", "b", "--expect", "exists"))
	assert.Equal(t, `persist: kv get "b": not found`, h.fail(1, "kv", "get", "b"))
	assert.Equal(t, `{"key":"a","revision":2,"value":"two"}`+"\n", h.ok("kv", "get", "a", "-o", "json"))
}

func TestStreamsAndStat(t *testing.T) {
	h := newHarness(t)
	h.ok("append", "b", "t", "1", "t", "2")
	h.ok("append", "a", "t", "1")
	h.ok("append", "c/x", "t", "1")
	h.ok("kv", "put", "k", "1")
	assert.Equal(t, "{:head 1 :stream \"a\"}\n{:head 2 :stream \"b\"}\n{:head 1 :stream \"c/x\"}\n", h.ok("streams"))
	assert.Equal(t, "{:head 1 :stream \"c/x\"}\n", h.ok("streams", "--prefix", "c/"))
	assert.Equal(t, "{:events 4 :events-stored 4 :events-visible 4 :kv-keys 1 :kv-versions 1 :snapshot-generations 0 :streams 3 :streams-deleted 0}\n", h.ok("stat"))
}

func TestTail(t *testing.T) {
	h := newHarness(t)
	for i := range 5 {
		h.ok("append", "s", "t", string(rune('1'+i)))
	}
	h.ok("append", "other", "t", "9")
	out := h.ok("tail", "-n", "2", "s")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 2)
	assert.Equal(t, int64(4), get(t, readSX(t, lines[0]), "seq"))
	assert.Equal(t, int64(5), get(t, readSX(t, lines[1]), "seq"))
	lines = strings.Split(strings.TrimSpace(h.ok("tail", "--all", "-n", "1")), "\n")
	require.Len(t, lines, 1)
	assert.Equal(t, "other", get(t, readSX(t, lines[0]), "stream"))
	assert.Equal(t, "persist: tail: want one STREAM (or --all), got 0 arguments", h.fail(2, "tail"))
}

func TestTailFollow(t *testing.T) {
	for i := range 4 {
		all := i%2 == 1
		h := newHarness(t)
		if i >= 2 {
			h = newFileHarness(t)
		}
		h.ok("append", "s", "t", "1")
		ctx, cancel := context.WithCancel(context.Background())
		pr, pw, err := os.Pipe()
		require.NoError(t, err)
		done := make(chan int, 1)
		go func() {
			m := &Main{Stdout: pw, Stderr: pw, Getenv: func(k string) string {
				if k == "PERSIST_DIR" {
					return h.dir
				}
				return ""
			},
				Open: func(context.Context, string, bool) (ops.Backend, error) { return shared{h.b}, nil }}
			args := []string{"tail", "-f", "s"}
			if all {
				args = []string{"tail", "-f", "--all"}
			}
			done <- m.ExitCode(m.Run(ctx, args))
			pw.Close()
		}()
		lines := make(chan string)
		go func() {
			var buf []byte
			b := make([]byte, 4096)
			for {
				n, err := pr.Read(b)
				buf = append(buf, b[:n]...)
				for {
					i := bytes.IndexByte(buf, '\n')
					if i < 0 {
						break
					}
					lines <- string(buf[:i])
					buf = buf[i+1:]
				}
				if err != nil {
					close(lines)
					return
				}
			}
		}()
		next := func() *sx.Dict {
			select {
			case l := <-lines:
				return readSX(t, l)
			case <-time.After(10 * time.Second):
				t.Fatal("tail -f printed nothing")
				return nil
			}
		}
		assert.Equal(t, int64(1), get(t, next(), "seq"))
		h.ok("append", "s", "t", "2", "t", "3")
		assert.Equal(t, int64(2), get(t, next(), "seq"))
		assert.Equal(t, int64(3), get(t, next(), "seq"))
		cancel()
		assert.Equal(t, 0, <-done, "an interrupted tail -f ends normally")
	}
}

func TestHelp(t *testing.T) {
	h := newHarness(t)
	top := h.ok("--help")
	for _, c := range commands() {
		assert.Contains(t, top, "  "+c.name+" ")
		var out string
		if len(c.sub) > 0 {
			out = h.ok(c.name, "--help")
			for _, s := range c.sub {
				sub := h.ok(c.name, s.name, "--help")
				assert.Contains(t, sub, "Usage: persist "+c.name+" "+s.name)
				assert.Contains(t, sub, "Example:\n  persist "+c.name+" "+s.name)
			}
		} else {
			out = h.ok(c.name, "--help")
			assert.Contains(t, out, "Usage: persist "+c.name)
			assert.Equal(t, out, h.ok("help", c.name))
		}
		assert.Contains(t, out, "Example:\n  persist "+c.name)
	}
	assert.Equal(t, 0, h.opens)
}

func TestParseInterspersed(t *testing.T) {
	h := newHarness(t)
	h.ok("append", "--expect", "no-stream", "s", "t", "--id", "6f1c1a62-8a4e-4d3b-9d5e-2b7f0c1e9a10", "1", "--", "t", "-5")
	lines := strings.Split(strings.TrimSpace(h.ok("read", "s")), "\n")
	require.Len(t, lines, 2)
	assert.Equal(t, int64(-5), get(t, readSX(t, lines[1]), "data"))
	assert.Equal(t, "6f1c1a62-8a4e-4d3b-9d5e-2b7f0c1e9a10", get(t, readSX(t, lines[0]), "id"))
}

func TestBenchOnMem(t *testing.T) {
	h := newHarness(t)
	out := h.ok("bench", "--duration", "50ms", "--events", "2000", "--writers", "4", "--in", t.TempDir())
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 4)
	for i, l := range lines {
		d := readSX(t, l)
		assert.Equal(t, fmt.Sprintf("W%d", i+1), get(t, d, "workload"))
		assert.Positive(t, get(t, d, "events-per-sec"))
		assert.Positive(t, get(t, d, "raw-events-per-sec"))
	}
	assert.Equal(t, int64(2000), get(t, readSX(t, lines[2]), "events"))
	assert.Equal(t, int64(2000), get(t, readSX(t, lines[3]), "events"))
}

// TestBenchViaServer runs W1-W3 through a loopback server beside the
// embedded runs: each of those lines carries the server's figures and
// their ratio to the embedded ones; W4 carries none.
func TestBenchViaServer(t *testing.T) {
	h := newHarness(t)
	out := h.ok("bench", "--duration", "50ms", "--events", "2000", "--writers", "4", "--in", t.TempDir(), "--via-server")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 4)
	for i, l := range lines[:3] {
		d := readSX(t, l)
		assert.Equal(t, fmt.Sprintf("W%d", i+1), get(t, d, "workload"))
		assert.Positive(t, get(t, d, "server-events-per-sec"), l)
		assert.Positive(t, get(t, d, "server-ratio"), l)
	}
	assert.Positive(t, get(t, readSX(t, lines[0]), "p50-us"))
	assert.Positive(t, get(t, readSX(t, lines[0]), "server-p50-us"))
	assert.NotContains(t, lines[3], "server-")
}
