package postgres

import (
	"context"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// DefaultSchema is the schema a store lives in when no WithSchema is given.
const DefaultSchema = "persist"

// Store is a persist backend on a PostgreSQL database.
type Store struct {
	pool    *pgxpool.Pool
	dsn     string // redacted
	schema  string
	channel string // the LISTEN/NOTIFY channel of the schema
	q       queries
	opts    options

	reqs      chan *request
	token     chan struct{}              // held (a value in it) by the caller leading a group
	lastGroup int                        // the size of the last group; the token's holder's
	heads     map[string]uint64          // committed heads seen, the guesses of groups; the token's holder's
	states    map[string]ops.StreamState // non-zero states of the streams in heads; the token's holder's
	metaGen   uint64                     // the metadata token (see migration 6) heads and states were seen at; the token's holder's
	lastPos   uint64                     // the log's last position seen committed, the guess of positions; the token's holder's
	posKnown  bool                       // whether lastPos is known (not before the first locked commit, nor after a lost answer)
	refused   atomic.Int64               // guessed groups the server refused (stale guesses)
	done      chan struct{}              // closed by Close
	closed    atomic.Bool
	wg        sync.WaitGroup
	// groupTimer ends a group's context at the commit timeout.
	groupTimer groupTimer

	mu       sync.Mutex
	changed  chan struct{} // made by a waiter, closed by the next change seen
	listener bool          // the listener has been started

	ahead *readahead // pages of read-all read ahead
}

var _ ops.Backend = (*Store)(nil)

type options struct {
	schema      string
	clock       func() time.Time
	ids         func() uuid.UUID
	maxConns    int32
	poll        time.Duration
	maxGroup    int
	linger      time.Duration
	txTimeout   time.Duration
	noGroup     bool
	noGuess     bool
	noReadahead bool
	listenRetry time.Duration
	commitFault func() Fault
	kvHistory   int
}

// Option configures a Store.
type Option func(*options)

// WithSchema sets the schema that holds the store (default "persist"), so
// that several stores (tenants, tests) share one database.
func WithSchema(name string) Option { return func(o *options) { o.schema = name } }

// WithClock sets the clock that stamps events and answers persist/now.
func WithClock(now func() time.Time) Option { return func(o *options) { o.clock = now } }

// WithIDs sets the source of IDs for events appended without one. It is
// called from one goroutine at a time.
func WithIDs(next func() uuid.UUID) Option { return func(o *options) { o.ids = next } }

// WithMaxConns bounds the store's connection pool (default 8). A replay
// reads pages ahead on at most a quarter of it (none below 4; see the
// package doc).
func WithMaxConns(n int) Option { return func(o *options) { o.maxConns = int32(n) } }

// WithPollInterval sets how often a pending wait looks at the database
// even without a notification (default 1s): the fallback for
// notifications lost with a connection.
func WithPollInterval(d time.Duration) Option { return func(o *options) { o.poll = d } }

// WithoutGroupCommit makes every commit its own transaction, for
// measuring what group commit wins.
func WithoutGroupCommit() Option { return func(o *options) { o.noGroup = true } }

// WithoutGuessing makes every commit read the heads it decides on under
// the lock (two round trips) instead of first trying the heads the store
// last saw committed (one round trip), for measuring what guessing wins
// and for testing the locked path on its own.
func WithoutGuessing() Option { return func(o *options) { o.noGuess = true } }

// WithoutReadahead makes read-all read each page when asked, never ahead
// of a replay (see the package doc), for measuring what readahead wins
// and for testing that it changes no answer.
func WithoutReadahead() Option { return func(o *options) { o.noReadahead = true } }

// WithKvHistory sets how many versions of each key the store keeps in
// its history, the current one included (ops.DefaultKvHistory unless
// set). The depth is the opening store's: stores on one schema should
// agree on it, since each trims the keys it writes. An n outside
// 1..ops.MaxKvHistory makes Open fail with the *ops.InvalidError that
// names it.
func WithKvHistory(n int) Option { return func(o *options) { o.kvHistory = n } }

// WithCommitTimeout bounds one commit transaction (default 30s).
func WithCommitTimeout(d time.Duration) Option { return func(o *options) { o.txTimeout = d } }

// timeOrderedIDs gives version 7 UUIDs (RFC 9562): the Unix time in
// milliseconds from now in the first 48 bits, then 74 random bits from a
// ChaCha8 stream seeded once from the operating system's random source.
// IDs drawn one after another so land next to each other in the
// (stream, id) index instead of all over it, which keeps the index pages
// an append touches few and in cache. It is called by one goroutine at a
// time (the holder of the commit token).
func timeOrderedIDs(now func() time.Time) func() uuid.UUID {
	var seed [32]byte
	if _, err := crand.Read(seed[:]); err != nil {
		panic(fmt.Sprintf("postgres: seed event IDs: %v", err))
	}
	src := rand.NewChaCha8(seed)
	return func() uuid.UUID {
		var id uuid.UUID
		_, _ = src.Read(id[6:])
		ms := uint64(now().UnixMilli())
		id[0], id[1], id[2] = byte(ms>>40), byte(ms>>32), byte(ms>>24)
		id[3], id[4], id[5] = byte(ms>>16), byte(ms>>8), byte(ms)
		id[6] = id[6]&0x0f | 0x70 // version 7
		id[8] = id[8]&0x3f | 0x80 // RFC 4122 variant
		return id
	}
}

// Open connects to the database at dsn (a URL or key=value connection
// string, as libpq takes), creates or migrates the store's schema, and
// returns the store. A failure is an *OpenError naming the DSN without its
// password; errors.Is tells its kind: ErrUnreachable, ErrAuth,
// ErrNoDatabase, ErrPermission or ErrSchemaTooNew.
func Open(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	o := options{
		schema: DefaultSchema, clock: time.Now, maxConns: 8, poll: time.Second,
		maxGroup: 512, linger: 300 * time.Microsecond, txTimeout: 30 * time.Second, listenRetry: 100 * time.Millisecond,
		kvHistory: ops.DefaultKvHistory,
	}
	for _, opt := range opts {
		opt(&o)
	}
	if o.ids == nil {
		o.ids = timeOrderedIDs(o.clock)
	}
	red := Redact(dsn)
	fail := func(err error) error {
		return &OpenError{DSN: red, Schema: o.schema, Kind: classify(err), Err: err}
	}
	if err := checkSchema(o.schema); err != nil {
		return nil, &OpenError{DSN: red, Schema: o.schema, Err: err}
	}
	if err := ops.ValidateKvHistory(o.kvHistory); err != nil {
		return nil, &OpenError{DSN: red, Schema: o.schema, Err: err}
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's parse errors may quote the DSN; say only that it is bad.
		return nil, &OpenError{DSN: red, Schema: o.schema, Err: errors.New("cannot parse the DSN")}
	}
	if o.maxConns > 0 {
		cfg.MaxConns = o.maxConns
	}
	cfg.MinConns = 0
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fail(err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fail(err)
	}
	if err := migrate(ctx, pool, o.schema); err != nil {
		pool.Close()
		if errors.Is(err, ErrSchemaTooNew) {
			return nil, &OpenError{DSN: red, Schema: o.schema, Kind: ErrSchemaTooNew, Err: err}
		}
		return nil, fail(err)
	}
	if err := checkToken(ctx, pool, o.schema); err != nil {
		pool.Close()
		return nil, &OpenError{DSN: red, Schema: o.schema, Kind: ErrPermission, Err: err}
	}
	sum := sha256.Sum256([]byte(o.schema))
	s := &Store{
		pool:    pool,
		dsn:     red,
		schema:  o.schema,
		channel: "persist_" + hex.EncodeToString(sum[:8]),
		q:       newQueries(quote(o.schema)),
		opts:    o,
		reqs:    make(chan *request, 4096),
		token:   make(chan struct{}, 1),
		heads:   map[string]uint64{},
		states:  map[string]ops.StreamState{},
		done:    make(chan struct{}),
		ahead:   newReadahead(readaheadDepth(cfg.MaxConns)),
	}
	if o.noReadahead {
		s.ahead.depth = 0
	}
	return s, nil
}

// Schema is the schema the store lives in.
func (s *Store) Schema() string { return s.schema }

// Pool is the store's connection pool, for callers who query the same
// database beside it.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Close ends pending waits, lets the commit in flight finish, answers
// queued commits with ops.ErrClosed and closes the pool. Every later
// operation returns ops.ErrClosed.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	close(s.done)
	s.wake()
	s.token <- struct{}{} // the group in flight ends
	s.drain()
	<-s.token
	s.wg.Wait()
	s.groupTimer.stop()
	s.ahead.close()
	s.pool.Close()
	return nil
}

// Handle answers the operations of package ops.
func (s *Store) Handle(p *effect.P, e effect.Effect) (any, error) {
	ctx := context.Background()
	if p != nil {
		ctx = p.Context()
	}
	switch op := e.(type) {
	case ops.Append:
		r, err := s.commit(ctx, op)
		if err != nil {
			return nil, err
		}
		return r.Appends[0], nil
	case ops.Commit:
		return s.commit(ctx, op)
	case ops.KvPut, ops.KvDelete:
		r, err := s.commit(ctx, op)
		if err != nil {
			return nil, err
		}
		return r.Kv[0], nil
	case ops.Read:
		return s.read(ctx, op)
	case ops.ReadAll:
		return s.readAll(ctx, op)
	case ops.Head:
		return s.head(ctx, op)
	case ops.Streams:
		return s.streams(ctx, op)
	case ops.Wait:
		return s.wait(ctx, op)
	case ops.KvGet:
		return s.kvGet(ctx, op)
	case ops.KvList:
		return s.kvList(ctx, op)
	case ops.SnapshotRead:
		return s.snapshotRead(ctx, op)
	case ops.SnapshotWrite:
		return s.snapshotWrite(ctx, op)
	case ops.SnapshotNames:
		return s.snapshotNames(ctx)
	case ops.StreamMetaRead:
		return s.streamMetaRead(ctx, op)
	case ops.StreamMetaWrite:
		return s.streamMetaWrite(ctx, op)
	case ops.StreamDelete:
		return s.streamDelete(ctx, op)
	case ops.KvHistory:
		return s.kvHistory(ctx, op)
	case ops.KvWatch:
		return s.kvWatch(ctx, op)
	case ops.KvWait:
		return s.kvWait(ctx, op)
	case ops.SnapshotGenerations:
		return s.snapshotGenerations(ctx, op)
	case ops.Stat:
		return s.stat(ctx)
	case ops.Now:
		if s.closed.Load() {
			return nil, ops.ErrClosed
		}
		return s.opts.clock(), nil
	}
	return nil, effect.ErrUnhandled
}

// dbErr gives the error of a failed query: ops.ErrClosed once the store
// is closed, else err with the store named.
func (s *Store) dbErr(op string, err error) error {
	if s.closed.Load() {
		return ops.ErrClosed
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("postgres: %s on %s: %w", op, s.dsn, err)
}

// checkToken refuses a role that cannot read the metadata token's
// sequence (migration 6). PostgreSQL 15 fails such a read, but
// pg_sequence_last_value of other versions answers NULL for a sequence
// the role has no right to, which a commit cannot tell from a token never
// set (0): its guesses would then pass another process's metadata write.
// So the right is checked once, here, and a commit pays nothing for it.
func checkToken(ctx context.Context, pool *pgxpool.Pool, schema string) error {
	seq := quote(schema) + ".meta_token"
	var ok bool
	if err := pool.QueryRow(ctx, "SELECT has_sequence_privilege($1, 'SELECT')", seq).Scan(&ok); err != nil {
		return fmt.Errorf("check the right to read %s: %w", seq, err)
	}
	if !ok {
		return fmt.Errorf("the role may not read sequence %s, which every commit checks (GRANT SELECT ON SEQUENCE %s)", seq, seq)
	}
	return nil
}
