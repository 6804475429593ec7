package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStreamMetaAndDelete(t *testing.T) {
	h := newHarness(t)
	h.ok("append", "s", "e", "1", "e", "2", "e", "3", "e", "4")
	assert.Equal(t, "{:deleted false :head 4 :max-age \"0s\" :max-count 0 :stream \"s\" :tombstone false :truncate-before 0}\n", h.ok("stream", "meta", "s"))
	out := h.ok("stream", "meta", "s", "--max-count", "3", "--max-age", "30d")
	assert.Equal(t, "{:deleted false :head 4 :max-age \"720h0m0s\" :max-count 3 :stream \"s\" :tombstone false :truncate-before 0}\n", out)
	out = h.ok("stream", "meta", "s", "--truncate-before", "3", "--expect", "4")
	assert.Contains(t, out, ":max-count 3", "a flag not given keeps its value")
	assert.Contains(t, out, ":truncate-before 3")
	lines := strings.Split(strings.TrimSpace(h.ok("read", "s")), "\n")
	require.Len(t, lines, 2)
	assert.Equal(t, int64(3), get(t, readSX(t, lines[0]), "seq"))

	msg := h.fail(exitError, "stream", "meta", "s", "--truncate-before", "9")
	assert.Contains(t, msg, "truncate-before")
	assert.Contains(t, msg, "head 4")
	msg = h.fail(exitError, "stream", "meta", "s", "--max-age", "-1h")
	assert.Contains(t, msg, "max-age")
	h.fail(exitUsage, "stream", "meta", "s", "--max-count", "-1")
	h.fail(exitUsage, "stream", "meta", "s", "--max-age", "soon")
	h.fail(exitConflict, "stream", "meta", "s", "--max-count", "1", "--expect", "2")
	assert.Contains(t, h.ok("stream", "meta", "s"), ":max-count 3 ", "nothing changed by the refused commands")

	out = h.ok("stream", "delete", "s", "--hard", "--expect", "4")
	assert.Contains(t, out, ":tombstone true")
	assert.Empty(t, h.ok("read", "s"))
	assert.Empty(t, h.ok("streams"))
	msg = h.fail(exitError, "append", "s", "e", "5")
	assert.Contains(t, msg, `"s"`)
	assert.Contains(t, msg, "hard-deleted")
}

func TestKvHistoryWatch(t *testing.T) {
	h := newHarness(t)
	h.ok("kv", "put", "c/a", "1")
	h.ok("kv", "put", "c/a", "2")
	h.ok("kv", "put", "other", "x")
	h.ok("kv", "del", "c/a")
	out := h.ok("kv", "history", "c/a")
	assert.Equal(t, "{:deleted true :key \"c/a\" :revision 4}\n{:deleted false :key \"c/a\" :revision 2 :value 2}\n{:deleted false :key \"c/a\" :revision 1 :value 1}\n", out)
	assert.Equal(t, 1, strings.Count(h.ok("kv", "history", "c/a", "--limit", "1"), "\n"))
	h.fail(exitError, "kv", "history", "c/a", "--limit", "-1")

	out = h.ok("kv", "watch", "--prefix", "c/", "--from", "2", "--idle", "10ms")
	assert.Equal(t, "{:deleted false :key \"c/a\" :revision 2 :value 2}\n{:deleted true :key \"c/a\" :revision 4}\n", out)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	out, errs, code := h.run(ctx, "", "kv", "watch", "--prefix", "c/", "--from", "5")
	assert.Equal(t, 0, code, errs)
	assert.Empty(t, out, "nothing after revision 4; interrupted")
}

func TestStatVisibleAgainstStored(t *testing.T) {
	h := newHarness(t)
	h.ok("append", "s", "e", "1", "e", "2", "e", "3")
	h.ok("stream", "meta", "s", "--max-count", "1")
	d := readSX(t, h.ok("stat"))
	assert.Equal(t, int64(1), get(t, d, "events-visible"))
	assert.Equal(t, int64(3), get(t, d, "events-stored"))
	assert.Equal(t, int64(0), get(t, d, "streams-deleted"))
}

func TestExportImportCarriesRetention(t *testing.T) {
	h := newHarness(t)
	h.ok("append", "s", "e", "1", "e", "2", "e", "3")
	h.ok("append", "gone", "e", "1")
	h.ok("stream", "meta", "s", "--max-count", "1")
	h.ok("stream", "delete", "gone", "--hard")
	out, errs, code := h.run(context.Background(), "", "export", "-")
	require.Equal(t, 0, code, errs)
	assert.Contains(t, out, `"kind":"hidden"`)
	assert.Contains(t, out, `"tombstone":true`)
	assert.Contains(t, errs, ":hidden 3", "the summary counts the hidden positions")
}

func FuzzParseAge(f *testing.F) {
	for _, s := range []string{"30d", "720h", "90m", "-1h", "0", "d", "1e3d", "9999999d", " 3d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parseAge(s)
		if err != nil {
			assert.Contains(t, err.Error(), "--max-age")
			return
		}
		if days, ok := strings.CutSuffix(s, "d"); ok {
			assert.Zero(t, d%(24*time.Hour), "%q is whole days", s)
			assert.NotEmpty(t, days)
		}
	})
}
