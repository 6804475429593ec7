package ops

// Page is memory a reader lends to a backend for the events of one Read or
// ReadAll at a time, so that a replay which only looks at events does not
// allocate per event: set Read.Page (ReadAll.Page) and the answer's Events
// live in the page. They, and every byte they hold (Data), are the
// caller's until the page is used again, by the next read given the same
// page or a call of Reset: then they are overwritten. A caller that keeps
// an event past that copies it (CloneEvent). A page is not safe for
// concurrent use; one read at a time uses it.
//
// The zero Page is ready to use. It keeps the memory of its largest read
// for the next one, so a loop over pages of the same size allocates
// nothing once the first page is read.
//
// For backends: a backend that honours Page calls Reset, takes memory with
// Alloc (reading records into it and handing out events whose Data alias
// it), appends each event with Add, and answers Events. One that copies
// its events from memory of its own uses Fill. A backend may ignore Page
// and answer fresh memory, as it does without one: a reader must not
// count on the answer aliasing the page, only on it staying valid until
// the page is used again.
type Page struct {
	events []Event
	mem    []byte // current chunk: mem[:len] is handed out, the rest is free
	last   int    // start of the last Alloc in mem, for Release
}

// pageChunk is the smallest chunk of memory a page takes at a time.
const pageChunk = 64 << 10

// Reset starts a new page: the events and bytes handed out before are
// given back and will be overwritten.
func (pg *Page) Reset() {
	clear(pg.events) // drop references to memory that is not the page's
	pg.events = pg.events[:0]
	pg.mem = pg.mem[:0]
	pg.last = 0
}

// Events is the page's events, in the order Add appended them.
func (pg *Page) Events() []Event { return pg.events }

// Size is the bytes of memory the page keeps for its next read.
func (pg *Page) Size() int { return cap(pg.mem) }

// Len is the number of events on the page.
func (pg *Page) Len() int { return len(pg.events) }

// Add appends ev to the page as it is: its Data must be memory of the
// page (from Alloc) or memory nobody changes.
func (pg *Page) Add(ev Event) { pg.events = append(pg.events, ev) }

// Alloc hands out n bytes of the page's memory, valid until the next
// Reset. Their content is undefined. When the current chunk is short the
// page takes a new, larger one; what was handed out from the old one stays
// valid.
func (pg *Page) Alloc(n int) []byte {
	if n < 0 {
		panic("ops: Page.Alloc of a negative size")
	}
	if cap(pg.mem)-len(pg.mem) < n {
		size := max(pageChunk, 2*cap(pg.mem), n)
		pg.mem = make([]byte, 0, size)
	}
	start := len(pg.mem)
	pg.mem = pg.mem[:start+n]
	pg.last = start
	return pg.mem[start : start+n : start+n]
}

// Release gives back the last n bytes of what the latest Alloc handed
// out, which the caller must not use from then on: for a backend that
// reads a window larger than the record it finds there.
func (pg *Page) Release(n int) {
	if n < 0 || n > len(pg.mem)-pg.last {
		panic("ops: Page.Release of more than the last Alloc")
	}
	pg.mem = pg.mem[:len(pg.mem)-n]
}

// Clone copies b into the page's memory; an empty b gives nil.
func (pg *Page) Clone(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	c := pg.Alloc(len(b))
	copy(c, b)
	return c
}

// Fill resets the page, adds a copy of each of evs (Data copied into the
// page's memory) and returns the page's events: the adapter for a backend
// that holds its events in memory of its own.
func (pg *Page) Fill(evs []Event) []Event {
	pg.Reset()
	for _, ev := range evs {
		ev.Data = pg.Clone(ev.Data)
		pg.Add(ev)
	}
	return pg.events
}

// CloneEvent gives a copy of ev that shares no memory with it: what to keep
// of an event read into a Page.
func CloneEvent(ev Event) Event {
	if len(ev.Data) > 0 {
		ev.Data = append([]byte(nil), ev.Data...)
	} else {
		ev.Data = nil
	}
	return ev
}
