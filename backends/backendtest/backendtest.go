package backendtest

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"rose-ash.com/persist/ops"
)

// Factory opens a fresh, empty backend for one run of one case. Its clock and
// its source of event IDs must be deterministic (see [Clock] and [IDs]), so
// that two runs of a case give the same answers. The suite closes the
// backend when the case ends (unless the case closed it). A Factory is
// called from parallel subtests and must be safe for that.
type Factory func(t *testing.T) ops.Backend

// Case is one named behaviour of the suite.
type Case struct {
	Suite string // the group, such as "log" or "kv"
	Name  string // the behaviour, such as "read-from"
	Doc   string // one sentence saying what the case checks
	// Concurrent cases run programs on several goroutines at once, so their
	// traces and results are not compared between the two modes.
	Concurrent bool
	// Retention cases check stream metadata and deletion, kv history and
	// watch, snapshot generations and stat: they run only for a backend
	// whose Options say it keeps them. Their consistency check allows the
	// gaps that hidden events leave.
	Retention bool
	// Run is the case's body, called once per mode with a fresh backend. It
	// runs programs with Do and checks their answers with the Env's check
	// methods.
	Run func(e *Env)
}

// Options says which optional parts of the contract a backend keeps.
type Options struct {
	// Retention is set by a backend that answers the retention operations
	// of package ops (stream metadata and deletion, kv history, watch and
	// wait, snapshot generations, stat) and opens its stores with the
	// default kv-history depth, ops.DefaultKvHistory.
	Retention bool
}

// CasesFor returns the cases of Cases that a backend with options o runs.
func CasesFor(o Options) []Case {
	var out []Case
	for _, c := range Cases() {
		if !c.Retention || o.Retention {
			out = append(out, c)
		}
	}
	return out
}

// FullName is "suite/name", the subtest path below the caller's test.
func (c Case) FullName() string { return c.Suite + "/" + c.Name }

var registry struct {
	sync.Mutex
	cases []Case
}

// register adds cases to the suite; each case file calls it from init.
func register(suite string, cs ...Case) {
	registry.Lock()
	defer registry.Unlock()
	for _, c := range cs {
		c.Suite = suite
		registry.cases = append(registry.cases, c)
	}
}

// suiteOrder is the order suites run and print in.
var suiteOrder = []string{
	"event", "log", "read-all", "streams", "kv", "commit", "idempotent",
	"concurrency", "alias", "wait", "limits", "snapshot", "project",
	"subscribe", "follow", "lifecycle", "retention", "delete", "kv-history",
	"kv-watch", "generations",
}

// Cases returns every case of the suite, grouped by suite in a fixed order.
func Cases() []Case {
	registry.Lock()
	defer registry.Unlock()
	rank := make(map[string]int, len(suiteOrder))
	for i, s := range suiteOrder {
		rank[s] = i + 1
	}
	out := make([]Case, 0, len(registry.cases))
	for r := 0; r <= len(suiteOrder); r++ {
		for _, c := range registry.cases {
			if rank[c.Suite] == r {
				out = append(out, c)
			}
		}
	}
	return out
}

// Suites returns the suite names in the order Cases gives them.
func Suites() []string {
	var out []string
	for _, c := range Cases() {
		if len(out) == 0 || out[len(out)-1] != c.Suite {
			out = append(out, c.Suite)
		}
	}
	return out
}

// RosterPrefix starts the log line, written by Run in verbose mode, that
// lists every case the run is about to execute, so that a scoreboard
// counts a case that never reported (a crashed test binary) as failed.
const RosterPrefix = "conformance roster:"

// Run runs every case against backends from open, as subtests of t named
// "suite/case". Each case runs twice, on two fresh backends: in place
// (interp.Run) and stepped (interp.RunStepped), with a trace middleware in
// front of the backend. A deterministic case must give the same answers and
// byte-identical traces both ways. Every failed check of a case is reported,
// not only the first.
func Run(t *testing.T, open Factory) {
	t.Helper()
	RunCases(t, open, CasesFor(Options{}))
}

// RunWith is Run for a backend that keeps the optional parts o names.
func RunWith(t *testing.T, open Factory, o Options) {
	t.Helper()
	RunCases(t, open, CasesFor(o))
}

// RunCases runs the given cases as Run runs the whole suite: a backend's
// own conformance test may add cases of its own (a crash suite, say) and
// have them run, checked and reported the same way.
func RunCases(t *testing.T, open Factory, cases []Case) {
	t.Helper()
	if testing.Verbose() {
		names := make([]string, len(cases))
		for i, c := range cases {
			names[i] = c.FullName()
		}
		t.Logf("%s %s", RosterPrefix, strings.Join(names, " "))
	}
	var suites []string
	for _, c := range cases {
		if !slices.Contains(suites, c.Suite) {
			suites = append(suites, c.Suite)
		}
	}
	for _, suite := range suites {
		t.Run(suite, func(t *testing.T) {
			t.Parallel()
			for _, c := range cases {
				if c.Suite != suite {
					continue
				}
				t.Run(c.Name, func(t *testing.T) {
					t.Parallel()
					rep := execute(t, c, open)
					rep.report(t)
				})
			}
		})
	}
}

// Epoch is the first instant of [Clock].
var Epoch = time.Date(2001, time.February, 3, 4, 5, 6, 0, time.UTC)

// Clock returns a deterministic clock for a backend: its first call answers
// Epoch and every later call one millisecond more. It is safe for
// concurrent use.
func Clock() func() time.Time {
	var n atomic.Int64
	return func() time.Time {
		return Epoch.Add(time.Duration(n.Add(1)-1) * time.Millisecond)
	}
}

// IDs returns a deterministic source of event IDs for a backend: version-4
// UUIDs 00000000-0000-4000-8000-000000000001, …-000000000002, and so on.
// It is safe for concurrent use.
func IDs() func() uuid.UUID {
	var n atomic.Uint64
	return func() uuid.UUID { return seqID(0, n.Add(1)) }
}

// seqID is the version-4-shaped UUID with the given first byte and
// sequence number in its last six bytes.
func seqID(space byte, n uint64) uuid.UUID {
	var u uuid.UUID
	u[0] = space
	u[6] = 0x40
	u[8] = 0x80
	for i := 15; i >= 10; i-- {
		u[i] = byte(n)
		n >>= 8
	}
	return u
}

// caseID is an event ID chosen by a case, from a space apart from IDs'.
func caseID(n uint64) uuid.UUID { return seqID(0xca, n) }

func (c Case) String() string { return fmt.Sprintf("%s (%s)", c.FullName(), c.Doc) }
