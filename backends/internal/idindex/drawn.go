package idindex

import (
	"encoding/binary"

	"github.com/google/uuid"
)

// The drawn-ID permutation (see the package doc): 122 bits, the 128 of a
// UUID but its version (4 bits) and variant (2 bits), split into two
// 61-bit halves a (high) and b (low) and run through a balanced Feistel
// network. The plain text is the nonce in the top 58 bits and the
// position in the low 64: a = nonce<<3 | pos>>61, b = pos's low 61 bits.

const (
	halfBits = 61
	halfMask = 1<<halfBits - 1
	// NonceBits is how many bits of a nonce Drawn uses (the low ones).
	NonceBits = 58
)

// f is round i's function of one half.
func (x *Index) f(i int, v uint64) uint64 {
	return mum(v^x.round[i], x.round[rounds+i]) & halfMask
}

// Drawn is the version-4 UUID drawn for the event at position pos under
// nonce (its low NonceBits bits): a keyed permutation of both, so
// distinct (nonce, pos) give distinct IDs. It is never the nil UUID.
func (x *Index) Drawn(nonce, pos uint64) uuid.UUID {
	nonce &= 1<<NonceBits - 1
	a, b := nonce<<3|pos>>halfBits, pos&halfMask
	for i := range rounds {
		a, b = b, a^x.f(i, b)
	}
	// 122 bits a:b into the UUID around its version and variant bits.
	hi60, lo62 := a>>1, (a&1)<<halfBits|b
	hi := hi60>>12<<16 | 0x4<<12 | hi60&0xfff
	lo := 0b10<<62 | lo62
	var id uuid.UUID
	binary.BigEndian.PutUint64(id[:8], hi)
	binary.BigEndian.PutUint64(id[8:], lo)
	return id
}

// DrawnPos inverts Drawn: the nonce and position whose drawn ID id would
// be. ok is false when id is not a version-4 UUID of the RFC 4122 variant,
// or names position 0; any other ID names some position, and the caller
// tells whether it was drawn there by looking at what is stored there.
func (x *Index) DrawnPos(id uuid.UUID) (nonce, pos uint64, ok bool) {
	hi := binary.BigEndian.Uint64(id[:8])
	lo := binary.BigEndian.Uint64(id[8:])
	if hi>>12&0xf != 0x4 || lo>>62 != 0b10 {
		return 0, 0, false
	}
	hi60 := hi>>16<<12 | hi&0xfff
	lo62 := lo & (1<<62 - 1)
	a, b := hi60<<1|lo62>>halfBits, lo62&halfMask
	for i := rounds - 1; i >= 0; i-- {
		a, b = b^x.f(i, a), a
	}
	pos = a<<halfBits | b
	if pos == 0 {
		return 0, 0, false
	}
	return a >> 3, pos, true
}
