package postgres

import (
	"context"
	"sync"
	"sync/atomic"

	"rose-ash.com/persist/ops"
)

// readahead reads the next pages of a replay of the global log while its
// reader decodes and uses the one it was given: after a full page of
// read-all (on the path whose positions have no holes), the pages after
// it are read on other connections of the pool, so that the server scans
// page N+1 while the client works on page N. A read that asks for
// exactly where a page read ahead starts (with the same limit) is
// answered from it, once the store's state read at the time of that read
// confirms that read-all needs no filtering; any other read drops what
// was read ahead. See the package doc for why the answer is one the
// store could give at the time of the read.
type readahead struct {
	depth int // pages read ahead at most, and connections used for them

	mu      sync.Mutex
	closed  bool
	running int          // reads ahead in flight (each holds a connection)
	pages   []*aheadPage // read or in flight, from the lowest position on
	spare   *ops.Page    // memory a lending reader gave back, for the next page

	ctx    context.Context // ends at close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	started, used atomic.Int64 // pages read ahead, and answered from, for tests

	// hook, when set (by tests), runs on a read ahead's goroutine before
	// its query, with the readahead's context.
	hook func(ctx context.Context, from uint64)
}

// aheadPage is one page read ahead.
type aheadPage struct {
	from  uint64
	limit int
	lend  bool // read into page: its reader lends pages
	done  chan struct{}

	// Set before done is closed.
	page   *ops.Page // the memory of events when lend
	events []ops.Event
	err    error
}

// readaheadBytes bounds the event data of a page after which a replay
// reads ahead: the pages read ahead are likely as large as the one just
// read, and are held until the next read-all (or Close) whether or not
// the reader asks for them, so a replay of large events reads each page
// when asked instead of holding up to twice MaxPage events of
// MaxDataBytes.
const readaheadBytes = 8 << 20

// dataBytes is the bytes of data of evs.
func dataBytes(evs []ops.Event) int {
	n := 0
	for i := range evs {
		n += len(evs[i].Data)
	}
	return n
}

// readaheadDepth is how many pages a store reads ahead at most: two, and
// never more than a quarter of its pool, so that commits and other reads
// keep the rest (none for a pool smaller than 4).
func readaheadDepth(maxConns int32) int { return min(2, int(maxConns/4)) }

func newReadahead(depth int) *readahead {
	ctx, cancel := context.WithCancel(context.Background())
	return &readahead{depth: depth, ctx: ctx, cancel: cancel}
}

// take removes and returns the page read ahead from `from` with limit,
// if it is the first in line; otherwise it drops every page read ahead
// (the reader went elsewhere) and returns nil.
func (r *readahead) take(from uint64, limit int) *aheadPage {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.pages) == 0 {
		return nil
	}
	if p := r.pages[0]; p.from == from && p.limit == limit {
		r.pages[0] = nil
		r.pages = r.pages[1:]
		return p
	}
	r.dropLocked()
	return nil
}

// drop forgets every page read ahead.
func (r *readahead) drop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.dropLocked()
}

// dropLocked forgets the pages read ahead. Those in flight run to their
// end on their own (cancelling a query costs its connection), still
// counted in running, and their answers are left to the collector.
func (r *readahead) dropLocked() {
	clear(r.pages)
	r.pages = r.pages[:0]
}

// idle reports whether no read ahead is in flight.
func (r *readahead) idle() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.running == 0
}

// after starts reading ahead the pages that follow a full page of limit
// events ending before next, up to the depth: pages already in line that
// continue from next are kept, others dropped. read is the read of one
// page, run on its own goroutine with the readahead's context.
func (r *readahead) after(next uint64, limit int, lend bool, read func(ctx context.Context, from uint64, limit int, page *ops.Page) ([]ops.Event, error)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || r.depth == 0 {
		return
	}
	at := next
	for _, p := range r.pages {
		if p.from != at || p.limit != limit || p.lend != lend {
			r.dropLocked()
			at = next
			break
		}
		at += uint64(limit)
	}
	for len(r.pages) < r.depth && r.running < r.depth && at < 1<<62 {
		r.pages = append(r.pages, r.startLocked(at, limit, lend, read))
		at += uint64(limit)
	}
}

func (r *readahead) startLocked(from uint64, limit int, lend bool, read func(ctx context.Context, from uint64, limit int, page *ops.Page) ([]ops.Event, error)) *aheadPage {
	p := &aheadPage{from: from, limit: limit, lend: lend, done: make(chan struct{})}
	if lend {
		p.page = r.spare
		r.spare = nil
		if p.page == nil {
			p.page = new(ops.Page)
		}
	}
	r.running++
	r.started.Add(1)
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		if r.hook != nil {
			r.hook(r.ctx, p.from)
		}
		p.events, p.err = read(r.ctx, p.from, p.limit, p.page)
		r.mu.Lock()
		r.running--
		r.mu.Unlock()
		close(p.done)
	}()
	return p
}

// giveBack keeps the memory of a page read ahead that was not used, for
// the next one.
func (r *readahead) giveBack(p *aheadPage) {
	if p.page == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.spare == nil {
		p.page.Reset()
		r.spare = p.page
	}
}

// hand gives the events of p to a reader that lent page (or nil). A
// lending reader's page takes p's memory, and p's page the memory the
// reader gave back by lending its page again (the events of its last
// read are its own only until then), which the next page read ahead
// reuses: a replay that lends its page so allocates nothing per page,
// readahead or not. A reader that lends none keeps p's memory.
func (r *readahead) hand(p *aheadPage, page *ops.Page) []ops.Event {
	r.used.Add(1)
	if p.page == nil || page == nil {
		return p.events
	}
	*page, *p.page = *p.page, *page
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.spare == nil {
		p.page.Reset()
		r.spare = p.page
	}
	return page.Events()
}

// close cancels the reads ahead in flight and waits for them to end; no
// read ahead starts after it.
func (r *readahead) close() {
	r.mu.Lock()
	r.closed = true
	r.dropLocked()
	r.spare = nil
	r.mu.Unlock()
	r.cancel()
	r.wg.Wait()
}
