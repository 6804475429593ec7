package postgres

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/ops"
)

func be(n int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(n)) }

// eventRow is the binary form of the columns pos, stream, seq, id, type,
// at, data.
func eventRow(pos int64, stream string, seq int64, id uuid.UUID, typ string, at int64, data []byte) [][]byte {
	if data == nil {
		data = []byte{}
	}
	return [][]byte{be(pos), []byte(stream), be(seq), id[:], []byte(typ), be(at), data}
}

func TestDecodeEvent(t *testing.T) {
	id := uuid.New()
	at := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	var d rowDecoder
	e, err := d.event(eventRow(7, "orders", 3, id, "placed", at.UnixNano(), []byte("abc")), 0)
	require.NoError(t, err)
	assert.Equal(t, id, e.ID)
	assert.Equal(t, "orders", e.Stream)
	assert.Equal(t, uint64(3), e.Seq)
	assert.Equal(t, uint64(7), e.Pos)
	assert.Equal(t, "placed", e.Type)
	assert.True(t, at.Equal(e.At))
	assert.Equal(t, []byte("abc"), e.Data)

	// Empty data is nil, as the other backends answer it.
	e2, err := d.event(eventRow(8, "orders", 4, id, "placed", 0, nil), 0)
	require.NoError(t, err)
	assert.Nil(t, e2.Data)

	// Neighbours in a block never share capacity: appending to one leaves
	// the next alone.
	e3, err := d.event(eventRow(9, "orders", 5, id, "placed", 0, []byte("xyz")), 0)
	require.NoError(t, err)
	_ = append(e.Data, 'Z')
	assert.Equal(t, []byte("xyz"), e3.Data)
	// Interned: the same bytes give the same string.
	assert.Equal(t, e.Stream, e3.Stream)

	// A payload larger than a quarter block gets its own.
	big := bytes.Repeat([]byte{1}, blockSize)
	e4, err := d.event(eventRow(10, "orders", 6, id, "placed", 0, big), 0)
	require.NoError(t, err)
	assert.Equal(t, big, e4.Data)
}

// TestDecodeEventIntoPage: with a page, payloads live in the page's
// memory (neighbours never sharing capacity) and stay valid until the
// page is used again, however large.
func TestDecodeEventIntoPage(t *testing.T) {
	var pg ops.Page
	d := rowDecoder{page: &pg}
	id := uuid.New()
	var evs []ops.Event
	for i := range 3000 {
		data := bytes.Repeat([]byte{byte(i)}, 1+i%300)
		e, err := d.event(eventRow(int64(i+1), "s", int64(i+1), id, "t", 0, data), 0)
		require.NoError(t, err)
		evs = append(evs, e)
	}
	_ = append(evs[0].Data, 'Z')
	for i, e := range evs {
		require.Equal(t, bytes.Repeat([]byte{byte(i)}, 1+i%300), e.Data, "event %d", i)
	}
	assert.Positive(t, pg.Size(), "the payloads are in the page")
	e, err := d.event(eventRow(1, "s", 1, id, "t", 0, nil), 0)
	require.NoError(t, err)
	assert.Nil(t, e.Data, "empty data is nil in a page too")
}

// TestCheckFormats refuses event columns that are not in binary format,
// which the decoder would misread.
func TestCheckFormats(t *testing.T) {
	names := []string{"pos", "stream", "seq", "id", "type", "at", "data"}
	fds := func(text ...int) []pgconn.FieldDescription {
		f := make([]pgconn.FieldDescription, len(names))
		for i, n := range names {
			f[i] = pgconn.FieldDescription{Name: n, Format: pgx.BinaryFormatCode}
		}
		for _, i := range text {
			f[i].Format = pgx.TextFormatCode
		}
		return f
	}
	require.NoError(t, checkFormats(fds(), 0))
	require.NoError(t, checkFormats(fds(1, 4), 0), "text columns read the same either way")
	for _, i := range binaryColumns {
		err := checkFormats(fds(i), 0)
		assert.ErrorIs(t, err, errBadRow, "column %s in text format", names[i])
		assert.ErrorContains(t, err, names[i])
	}
	assert.ErrorIs(t, checkFormats(fds()[:6], 0), errBadRow, "too few columns")
}

func TestDecodeEventRefusesMalformedRows(t *testing.T) {
	good := func() [][]byte { return eventRow(1, "s", 1, uuid.New(), "t", 0, []byte("x")) }
	cases := map[string]func([][]byte) [][]byte{
		"short pos":   func(v [][]byte) [][]byte { v[0] = v[0][:4]; return v },
		"null stream": func(v [][]byte) [][]byte { v[1] = nil; return v },
		"long seq":    func(v [][]byte) [][]byte { v[2] = append(v[2], 0); return v },
		"short id":    func(v [][]byte) [][]byte { v[3] = v[3][:15]; return v },
		"null data":   func(v [][]byte) [][]byte { v[6] = nil; return v },
		"few columns": func(v [][]byte) [][]byte { return v[:6] },
	}
	for name, spoil := range cases {
		t.Run(name, func(t *testing.T) {
			var d rowDecoder
			_, err := d.event(spoil(good()), 0)
			assert.True(t, errors.Is(err, errBadRow), "got %v", err)
		})
	}
}

// FuzzDecodeEvent feeds the decoder arbitrary column bytes: it must never
// panic, and what it accepts must be what the columns say.
func FuzzDecodeEvent(f *testing.F) {
	id := uuid.MustParse("ca000000-0000-4000-8000-000000000001")
	r := eventRow(1, "s", 1, id, "t", 5, []byte("x"))
	f.Add(r[0], r[1], r[2], r[3], r[4], r[5], r[6])
	f.Add([]byte{}, []byte{}, []byte{}, []byte{}, []byte{}, []byte{}, []byte{})
	f.Add(be(-1), []byte("\xff"), be(1<<62), make([]byte, 16), []byte(""), be(-1), bytes.Repeat([]byte{9}, blockSize))
	f.Fuzz(func(t *testing.T, pos, stream, seq, id, typ, at, data []byte) {
		var d rowDecoder
		e, err := d.event([][]byte{pos, stream, seq, id, typ, at, data}, 0)
		if err != nil {
			if !errors.Is(err, errBadRow) {
				t.Fatalf("error %v is not errBadRow", err)
			}
			return
		}
		if !bytes.Equal(be(int64(e.Pos)), pos) || !bytes.Equal(be(int64(e.Seq)), seq) || !bytes.Equal(be(e.At.UnixNano()), at) {
			t.Fatalf("numbers %d %d %v from %x %x %x", e.Pos, e.Seq, e.At, pos, seq, at)
		}
		if e.Stream != string(stream) || e.Type != string(typ) || !bytes.Equal(e.ID[:], id) || !bytes.Equal(e.Data, data) {
			t.Fatalf("decoded %+v from %q %q %x %x", e, stream, typ, id, data)
		}
		if len(data) == 0 && e.Data != nil {
			t.Fatalf("empty data decoded as %#v, want nil", e.Data)
		}
		// Into a lent page: the same event.
		pd := rowDecoder{page: new(ops.Page)}
		pe, err := pd.event([][]byte{pos, stream, seq, id, typ, at, data}, 0)
		if err != nil {
			t.Fatalf("decoded without a page, refused into one: %v", err)
		}
		if pe.Stream != e.Stream || pe.Type != e.Type || pe.ID != e.ID || pe.Pos != e.Pos || pe.Seq != e.Seq || !pe.At.Equal(e.At) || !bytes.Equal(pe.Data, e.Data) || (pe.Data == nil) != (e.Data == nil) {
			t.Fatalf("into a page %+v, without %+v", pe, e)
		}
	})
}
