package transfer_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/backends/backendtest"
	"rose-ash.com/persist/backends/mem"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/transfer"
)

func source(t testing.TB) *mem.Store {
	t.Helper()
	s := mem.New(mem.WithClock(backendtest.Clock()), mem.WithIDs(backendtest.IDs()))
	t.Cleanup(func() { _ = s.Close() })
	p := effect.Handle(context.Background(), s)
	for i := range 12 {
		_, err := effect.Perform(p, ops.Append{Stream: []string{"a", "b", "c"}[i%3], Events: []ops.EventData{{Type: "t", Data: []byte{byte(i), 0xff}}}})
		require.NoError(t, err)
	}
	_, err := effect.Perform(p, ops.KvPut{Key: "k1", Value: []byte("v1")})
	require.NoError(t, err)
	_, err = effect.Perform(p, ops.KvDelete{Key: "k0"})
	require.NoError(t, err)
	_, err = effect.Perform(p, ops.KvPut{Key: "k2", Value: []byte("v2")})
	require.NoError(t, err)
	_, err = effect.Perform(p, ops.SnapshotWrite{Snapshot: ops.Snapshot{Name: "a", Version: 1, Seq: 4, Value: []byte("s")}})
	require.NoError(t, err)
	return s
}

func exportOf(t testing.TB, h effect.Handler) []byte {
	t.Helper()
	var buf bytes.Buffer
	_, err := transfer.Export(context.Background(), h, &buf)
	require.NoError(t, err)
	return buf.Bytes()
}

func target() (*mem.Store, transfer.Target) {
	clk := &transfer.Clock{}
	s := mem.New(mem.WithClock(clk.Now))
	return s, transfer.Target{Handler: s, Clock: clk}
}

// isEmpty reports whether an import left its target as it found it.
func isEmpty(t *testing.T, h effect.Handler) bool {
	t.Helper()
	return transfer.CheckEmpty(context.Background(), h) == nil
}

func TestImportKeepsEverything(t *testing.T) {
	src := source(t)
	b := exportOf(t, src)
	dst, tgt := target()
	defer dst.Close()
	s, err := transfer.Import(context.Background(), bytes.NewReader(b), tgt)
	require.NoError(t, err)
	want, err := transfer.Digest(context.Background(), src)
	require.NoError(t, err)
	assert.Equal(t, want, s.Digest)
	assert.Equal(t, b, exportOf(t, dst))
	// The revision after the import continues from the last entry's.
	r, err := effect.Perform(effect.Handle(context.Background(), dst), ops.KvPut{Key: "k3"})
	require.NoError(t, err)
	assert.Equal(t, uint64(4), r.Revision)
}

func TestImportRefusesANonEmptyStore(t *testing.T) {
	b := exportOf(t, source(t))
	dst, tgt := target()
	defer dst.Close()
	_, err := effect.Perform(effect.Handle(context.Background(), dst), ops.KvPut{Key: "x"})
	require.NoError(t, err)
	_, err = transfer.Import(context.Background(), bytes.NewReader(b), tgt)
	require.ErrorIs(t, err, transfer.ErrNotEmpty)
	assert.Contains(t, err.Error(), `"x"`)
}

// TestBadExports: a file cut at any byte, one byte changed anywhere, a
// newer version, bytes after the trailer: each a clear error, and the
// decoder never reaches a good end.
func TestBadExports(t *testing.T) {
	b := exportOf(t, source(t))
	_, err := transfer.Verify(bytes.NewReader(b))
	require.NoError(t, err)

	for cut := 0; cut < len(b); cut += 1 + cut/40 {
		_, err := transfer.Verify(bytes.NewReader(b[:cut]))
		require.Error(t, err, "cut at %d", cut)
		assert.True(t, errors.Is(err, transfer.ErrTruncated) || errors.Is(err, transfer.ErrFormat), "cut at %d: %v", cut, err)
	}
	_, err = transfer.Verify(bytes.NewReader(b[:len(b)-1]))
	assert.ErrorIs(t, err, transfer.ErrTruncated)
	lastNL := bytes.LastIndexByte(b[:len(b)-1], '\n')
	_, err = transfer.Verify(bytes.NewReader(b[:lastNL+1]))
	assert.ErrorIs(t, err, transfer.ErrTruncated)
	assert.Contains(t, err.Error(), "ends here")

	for i := 0; i < len(b); i += 1 + i/60 {
		bad := bytes.Clone(b)
		bad[i] ^= 0x01
		_, err := transfer.Verify(bytes.NewReader(bad))
		assert.Error(t, err, "byte %d changed", i)
	}

	newer := bytes.Replace(b, []byte(`"persist-export","version":3}`), []byte(`"persist-export","version":4,"extra":true}`), 1)
	_, err = transfer.Verify(bytes.NewReader(newer))
	require.ErrorIs(t, err, transfer.ErrNewerVersion)
	assert.Contains(t, err.Error(), "version 4")

	_, err = transfer.Verify(bytes.NewReader(append(bytes.Clone(b), "{}\n"...)))
	require.ErrorIs(t, err, transfer.ErrFormat)
	assert.Contains(t, err.Error(), "after the trailer")

	_, err = transfer.Verify(strings.NewReader(""))
	assert.ErrorIs(t, err, transfer.ErrFormat)
}

// TestBadImportLeavesNothingPublished: an import of a damaged export fails
// with the decoder's error; the staged store is what the caller drops.
func TestBadImportFails(t *testing.T) {
	b := exportOf(t, source(t))
	// Change an event's data consistently in its line: the JSON is good,
	// the digest is not.
	i := bytes.Index(b, []byte(`"data":"`)) + len(`"data":"`)
	bad := bytes.Clone(b)
	bad[i] = 'B'
	dst, tgt := target()
	defer dst.Close()
	_, err := transfer.Import(context.Background(), bytes.NewReader(bad), tgt)
	require.ErrorIs(t, err, transfer.ErrFormat)
	var fe *transfer.FormatError
	require.ErrorAs(t, err, &fe)
	assert.Greater(t, fe.Line, 1)
}

func TestDigestDiffers(t *testing.T) {
	a, b := source(t), source(t)
	da, err := transfer.Digest(context.Background(), a)
	require.NoError(t, err)
	db, err := transfer.Digest(context.Background(), b)
	require.NoError(t, err)
	assert.Equal(t, da, db, "same content, same digest")
	_, err = effect.Perform(effect.Handle(context.Background(), b), ops.KvPut{Key: "k1", Value: []byte("v1")})
	require.NoError(t, err)
	db, err = transfer.Digest(context.Background(), b)
	require.NoError(t, err)
	assert.NotEqual(t, da, db, "a rewritten value has a new revision")
	assert.True(t, strings.HasPrefix(da, "sha256:") && len(da) == 7+64)
}

// FuzzDecoder: no input makes the decoder panic or hang, and one that
// decodes to a good end re-encodes (through a store) to itself.
func FuzzDecoder(f *testing.F) {
	good := exportOf(f, source(f))
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte(`{"format":"persist-export","version":1}` + "\n"))
	f.Add([]byte(`{"format":"persist-export","version":9}` + "\n"))
	f.Add(asVersion1(f, good))
	f.Add(exportOf(f, retained(f)))
	f.Add(exportOf(f, historied(f)))
	f.Add([]byte("{\"format\":\"persist-export\",\"version\":1}\n{\"kind\":\"end\",\"counts\":{\"events\":0,\"streams\":0,\"kv\":0,\"snapshots\":0},\"last-pos\":0,\"digest\":\"x\",\"sha256\":\"y\"}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		dec, err := transfer.NewDecoder(bytes.NewReader(b))
		if err != nil {
			return
		}
		for {
			_, err := dec.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return
			}
		}
		dst, tgt := target()
		defer dst.Close()
		if _, err := transfer.Import(context.Background(), bytes.NewReader(b), tgt); err != nil {
			// A good export may still not import (ops limits on names);
			// it must fail cleanly.
			return
		}
		got, err := transfer.Digest(context.Background(), dst)
		require.NoError(t, err)
		assert.Equal(t, dec.Trailer.Digest, got)
		if bytes.HasPrefix(b, []byte(`{"format":"persist-export","version":3}`)) && dec.Trailer.At.IsZero() {
			assert.Equal(t, b, exportOf(t, dst), "a version 3 export re-exports to itself")
		}
	})
}

// TestImportRefusesWhatLeavesNoEntry: a target whose only content is a
// stream's metadata, a deleted stream, or a key put and deleted again is
// not empty either; the import is refused up front, naming what it found,
// and writes nothing.
func TestImportRefusesWhatLeavesNoEntry(t *testing.T) {
	b := exportOf(t, source(t))
	for _, c := range []struct {
		name string
		do   []effect.Effect
		want string
	}{
		{"metadata", []effect.Effect{ops.StreamMetaWrite{Stream: "m", Meta: ops.StreamMeta{MaxCount: 3}}}, `stream "m"`},
		{"deleted stream", []effect.Effect{ops.StreamDelete{Stream: "d", Hard: true}}, `stream "d"`},
		{"deleted key", []effect.Effect{ops.KvPut{Key: "k", Value: []byte("v")}, ops.KvDelete{Key: "k"}}, "kv revision is 2"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dst, tgt := target()
			defer dst.Close()
			p := effect.Handle(context.Background(), dst)
			for _, op := range c.do {
				_, err := p.Send(op)
				require.NoError(t, err)
			}
			before, err := effect.Perform(p, ops.Stat{})
			require.NoError(t, err)
			_, err = transfer.Import(context.Background(), bytes.NewReader(b), tgt)
			require.ErrorIs(t, err, transfer.ErrNotEmpty)
			assert.Contains(t, err.Error(), c.want)
			after, err := effect.Perform(p, ops.Stat{})
			require.NoError(t, err)
			assert.Equal(t, before, after, "the refused import wrote nothing")
		})
	}
}
