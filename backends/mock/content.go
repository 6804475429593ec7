package mock

// content is the bytes of a file: size bytes, of which those past len(b)
// are zeros (reserved or never written). Clones and crashes share b
// copy-on-write: shared is set on every holder, and whoever changes it
// first copies.
type content struct {
	b      []byte
	size   int64
	shared bool
}

// share returns a copy of c that shares its bytes, and marks c shared.
func (c *content) share() content {
	c.shared = true
	return content{b: c.b, size: c.size, shared: true}
}

// own makes c's bytes its own before a change.
func (c *content) own() {
	if c.shared {
		c.b = append(make([]byte, 0, len(c.b)), c.b...)
		c.shared = false
	}
}

// fill makes b hold at least n bytes (n <= size), zeros added.
func (c *content) fill(n int64) {
	if n <= int64(len(c.b)) {
		return
	}
	if n <= int64(cap(c.b)) {
		old := len(c.b)
		c.b = c.b[:n]
		clear(c.b[old:])
		return
	}
	nb := make([]byte, n, max(n, int64(cap(c.b))*2))
	copy(nb, c.b)
	c.b = nb
}

// apply applies op.
func (c *content) apply(op fileOp) {
	c.own()
	switch op.kind {
	case opWrite:
		end := op.off + int64(len(op.data))
		c.fill(end)
		copy(c.b[op.off:], op.data)
		c.size = max(c.size, end)
	case opTruncate:
		if op.size < int64(len(c.b)) {
			clear(c.b[op.size:])
			c.b = c.b[:op.size]
		}
		c.size = op.size
	case opExtend:
		c.size = max(c.size, op.size)
	}
}

// readAt copies the bytes at off into buf and returns how many there were.
func (c *content) readAt(buf []byte, off int64) int {
	if off >= c.size {
		return 0
	}
	n := int(min(int64(len(buf)), c.size-off))
	k := 0
	if off < int64(len(c.b)) {
		k = copy(buf[:n], c.b[off:])
	}
	clear(buf[k:n])
	return n
}

// bytes returns all size bytes, zeros materialised.
func (c *content) bytes() []byte {
	out := make([]byte, c.size)
	copy(out, c.b)
	return out
}

// used is the offset past the last non-zero byte.
func (c *content) used() int64 {
	n := int64(len(c.b))
	for n > 0 && c.b[n-1] == 0 {
		n--
	}
	return n
}
