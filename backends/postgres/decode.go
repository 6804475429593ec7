package postgres

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"rose-ash.com/persist/ops"
)

// Event rows are decoded from the wire by hand: every column of a page in
// PostgreSQL's binary format (bigint: 8 bytes big-endian; uuid: 16 bytes;
// text and bytea: the bytes themselves), the stream names and types of a
// page interned, and the payloads of a page copied into a few shared
// blocks. A replay so costs a small fraction of the allocations and
// per-column dispatch of pgx's generic Scan.

// binaryResults asks for every result column in binary format.
var binaryResults = pgx.QueryResultFormats{pgx.BinaryFormatCode}

// errBadRow is the error of a row that is not what the query selects.
var errBadRow = errors.New("postgres: malformed event row")

// rowDecoder decodes the event rows of one page. Its strings and blocks
// belong to the events it returns. With a page (a reader's ops.Page, or
// one a read ahead fills) the payloads are copied into the page's memory
// instead, so that a replay that lends its pages allocates none.
type rowDecoder struct {
	names map[string]string
	block []byte
	page  *ops.Page
}

const (
	// blockSize is the size of the blocks a page's payloads are copied to.
	blockSize = 64 << 10
	// maxInterned bounds the distinct strings a page interns.
	maxInterned = 1024
)

// intern returns b as a string, the same string for the same bytes.
func (d *rowDecoder) intern(b []byte) string {
	if s, ok := d.names[string(b)]; ok {
		return s
	}
	s := string(b)
	if d.names == nil {
		d.names = map[string]string{}
	}
	if len(d.names) < maxInterned {
		d.names[s] = s
	}
	return s
}

// bytes returns a copy of b (nil for none) whose capacity ends with it, so
// that appending to it never writes over its neighbour's bytes.
func (d *rowDecoder) bytes(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	if d.page != nil {
		return d.page.Clone(b) // its capacity ends with it too
	}
	if len(b) > blockSize/4 {
		return append([]byte(nil), b...)
	}
	if len(b) > cap(d.block)-len(d.block) {
		d.block = make([]byte, 0, blockSize)
	}
	start := len(d.block)
	d.block = append(d.block, b...)
	return d.block[start:len(d.block):len(d.block)]
}

// binaryColumns are the columns of an event row (pos, stream, seq, id,
// type, at, data) whose binary format differs from their text one.
var binaryColumns = [...]int{0, 2, 3, 5, 6}

// checkFormats refuses rows whose event columns from first are not in
// the format event decodes: a bigint, uuid or bytea in text format would
// be misread, not refused, by the length checks alone. A statement sent
// in a batch gets the formats pgx prefers (binary for these types), not
// binaryResults, so the decoder checks what came.
func checkFormats(fds []pgconn.FieldDescription, first int) error {
	if len(fds) < first+7 {
		return fmt.Errorf("%w: %d columns", errBadRow, len(fds))
	}
	for _, i := range binaryColumns {
		if fds[first+i].Format != pgx.BinaryFormatCode {
			return fmt.Errorf("%w: column %d (%s) is not in binary format", errBadRow, first+i+1, fds[first+i].Name)
		}
	}
	return nil
}

func int8At(vals [][]byte, i int) (int64, error) {
	if len(vals[i]) != 8 {
		return 0, fmt.Errorf("%w: column %d is %d bytes, not a bigint", errBadRow, i+1, len(vals[i]))
	}
	return int64(binary.BigEndian.Uint64(vals[i])), nil
}

// event decodes the columns pos, stream, seq, id, type, at, data from vals
// at first (in binary format) into an event. A NULL (a nil value) is an
// error: none of these columns may hold one.
func (d *rowDecoder) event(vals [][]byte, first int) (ops.Event, error) {
	if len(vals) < first+7 {
		return ops.Event{}, fmt.Errorf("%w: %d columns", errBadRow, len(vals))
	}
	v := vals[first : first+7]
	for i, c := range v {
		if c == nil {
			return ops.Event{}, fmt.Errorf("%w: column %d is NULL", errBadRow, first+i+1)
		}
	}
	pos, err := int8At(v, 0)
	if err != nil {
		return ops.Event{}, err
	}
	seq, err := int8At(v, 2)
	if err != nil {
		return ops.Event{}, err
	}
	at, err := int8At(v, 5)
	if err != nil {
		return ops.Event{}, err
	}
	if len(v[3]) != 16 {
		return ops.Event{}, fmt.Errorf("%w: id is %d bytes, not a uuid", errBadRow, len(v[3]))
	}
	e := ops.Event{
		Stream: d.intern(v[1]), Seq: uint64(seq), Pos: uint64(pos), Type: d.intern(v[4]),
		At: time.Unix(0, at).UTC(), Data: d.bytes(v[6]),
	}
	copy(e.ID[:], v[3])
	return e, nil
}
