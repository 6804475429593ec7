package crashtest

import (
	"context"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"path"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"rose-ash.com/persist/backends/file"
	"rose-ash.com/persist/backends/mock"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/platform"
)

// Fault names of the crash test, grouped by when they strike.
var (
	// crashFaults strike at the crash point: what the crash keeps.
	crashFaults = []string{"drop", "prefix", "subset", "torn", "extend-zero", "extend-garbage", "dirs", "keep"}
	// diskFaults strike the disk a crash left, before the restart.
	// bitflip-seal and bitflip-covered aim at what Open trusts to a store
	// checkpoint: a seal record, and a commit record the newest
	// checkpoint covers. idx-missing, idx-torn and idx-bitflip strike a
	// segment index file (removed, its last sector zeroed, a bit
	// flipped): the store rebuilds it from its segment, so nothing may be
	// lost or wrong. kv-missing, kv-torn and kv-bitflip strike a kv run
	// file the same ways: the store rebuilds the kv keys from the log
	// when Open finds the damage (a missing run, its header or sparse
	// index); a flipped bit in a block, which Open trusts to the
	// checkpoint, is ErrCorrupt on the read that takes the block.
	// st-missing, st-torn and st-bitflip strike a stream run file the
	// same ways, with the same outcomes: Open reads a run's header and
	// sparse index, not the heads in its blocks, which it trusts to the
	// checkpoint as the kv runs' (rule 8 of recovery).
	diskFaults = []string{"bitflip", "zero-sector", "bitflip-seal", "bitflip-covered", "recovery-crash", "read-eio", "misdirect-read",
		"idx-missing", "idx-torn", "idx-bitflip", "kv-missing", "kv-torn", "kv-bitflip", "st-missing", "st-torn", "st-bitflip"}
	// runFaults strike the running store at effect k; the workload goes
	// on, and the machine crashes at its end. meta-eio and meta-enospc
	// strike the effects that are neither a write nor a sync: the creates,
	// renames, removes, cuts, reservations and closes of a roll, a store
	// checkpoint, a snapshot or a recovery.
	runFaults = []string{"fsync-eio", "write-eio", "enospc", "short-write", "misdirect-write", "meta-eio", "meta-enospc"}
)

// Faults lists every fault of the crash test.
func Faults() []string {
	return slices.Concat(crashFaults, diskFaults, runFaults)
}

func isRunFault(f string) bool { return slices.Contains(runFaults, f) }

// applies reports whether run fault f can strike the effect named op.
func applies(f, op string) bool {
	switch f {
	case "fsync-eio":
		return op == platform.NameFsync || op == platform.NameFdatasync || op == platform.NameSyncDir
	case "write-eio", "short-write", "misdirect-write":
		return op == platform.NameWriteAt
	case "enospc":
		return op == platform.NameWriteAt || op == platform.NameFallocate
	case "meta-eio":
		return op == platform.NameOpen || op == platform.NameTruncate || op == platform.NameRename ||
			op == platform.NameRemove || op == platform.NameClose || op == platform.NameFallocate
	case "meta-enospc":
		// What needs a new inode or directory block.
		return op == platform.NameOpen || op == platform.NameRename || op == platform.NameMkdir
	}
	return false
}

// Case names one check: a workload crashed at IO effect At (before or
// after it happened; a run fault strikes it), under one draw of a fault.
type Case struct {
	Seed     uint64
	Workload string
	At       int
	After    bool
	Fault    string
	Draw     int
}

func (c Case) side() string {
	switch {
	case isRunFault(c.Fault):
		return "at"
	case c.After:
		return "after"
	}
	return "before"
}

// Name is a short unique name for the case, usable as a test name.
func (c Case) Name() string {
	return fmt.Sprintf("%s/k%d-%s/%s/d%d", c.Workload, c.At, c.side(), c.Fault, c.Draw)
}

// Key is Name without slashes, usable as one level of a subtest name.
func (c Case) Key() string { return strings.ReplaceAll(c.Name(), "/", ":") }

func (c Case) String() string {
	return fmt.Sprintf("seed %d workload %s k %d %s fault %s draw %d", c.Seed, c.Workload, c.At, c.side(), c.Fault, c.Draw)
}

// Command is the one line that replays the case.
func (c Case) Command() string {
	after := ""
	if c.After && !isRunFault(c.Fault) {
		after = " --after"
	}
	return fmt.Sprintf("go run ./cmd/persist crashtest --seed %d --workload %s --at %d%s --fault %s --draw %d",
		c.Seed, c.Workload, c.At, after, c.Fault, c.Draw)
}

// rand gives the random source of the case's fault draws.
func (c Case) rand() *rand.Rand {
	return rand.New(rand.NewPCG(mix(c.Seed, c.Name(), 0), 0x6661756c74))
}

// Result is the verdict on one case.
type Result struct {
	Case    Case
	Outcome string // how it passed
	Detail  string // what the fault did
	Err     error  // the violation; nil when the case passed
}

// Report prints a failing result with everything needed to replay it.
func (r Result) Report() string {
	return fmt.Sprintf("crash case failed: %s\n  fault: %s\n  violation: %v\n  replay: %s", r.Case, r.Detail, r.Err, r.Case.Command())
}

// Config is a crash campaign.
type Config struct {
	Seed      uint64
	Workloads []string // nil: all
	Faults    []string // nil: all
	Draws     int      // draws per crash point and fault; 0 means 2
	RunDraws  int      // draws per effect of each run fault; 0 means Draws
	// Sample is the share of crash points checked in sampled workloads;
	// 0 means 0.25, 1 checks every one.
	Sample float64
	// One checks only crash point At (before it, or after it with After)
	// and draw Draw: one case, to replay it.
	One   bool
	At    int
	After bool
	Draw  int
	// Workers run workloads in parallel; 0 means GOMAXPROCS.
	Workers int
	// OnResult is called with every result, from one goroutine at a time.
	OnResult func(Result)
	// Wrap, when set, puts a handler between the store and the disk in the
	// workload runs (not in the checks): a platform that misbehaves, to
	// show that the checks catch what it does.
	Wrap func(disk effect.Handler) effect.Handler
}

// Single is the configuration that replays one case.
func Single(c Case) Config {
	return Config{One: true, Seed: c.Seed, Workloads: []string{c.Workload}, Faults: []string{c.Fault}, At: c.At, After: c.After, Draw: c.Draw, Draws: c.Draw + 1, Sample: 1}
}

// Summary is what a campaign checked.
type Summary struct {
	Cases    int
	Failed   []Result
	PerFault map[string]int
	Outcomes map[string]int
	Elapsed  time.Duration
}

// Rate is cases checked per second.
func (s Summary) Rate() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Cases) / s.Elapsed.Seconds()
}

// Print writes the summary: cases, rate, per-fault counts and outcomes.
func (s Summary) Print(w io.Writer) {
	fmt.Fprintf(w, "crash cases: %d checked, %d failed, %.1fs, %.0f cases/s\n", s.Cases, len(s.Failed), s.Elapsed.Seconds(), s.Rate())
	var parts []string
	for _, f := range Faults() {
		if n := s.PerFault[f]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", f, n))
		}
	}
	fmt.Fprintf(w, "per fault: %s\n", strings.Join(parts, ", "))
	keys := make([]string, 0, len(s.Outcomes))
	for k := range s.Outcomes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts = parts[:0]
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, s.Outcomes[k]))
	}
	fmt.Fprintf(w, "outcomes: %s\n", strings.Join(parts, ", "))
}

// Run runs a campaign and summarises it. Its error is about the campaign
// itself (an unknown workload or fault); violations are failed results.
func Run(ctx context.Context, cfg Config) (Summary, error) {
	ws, faults, err := cfg.prepare()
	if err != nil {
		return Summary{}, err
	}
	sum := Summary{PerFault: map[string]int{}, Outcomes: map[string]int{}}
	var mu sync.Mutex
	emit := func(r Result) {
		mu.Lock()
		defer mu.Unlock()
		sum.Cases++
		sum.PerFault[r.Case.Fault]++
		if r.Err != nil {
			sum.Failed = append(sum.Failed, r)
			sum.Outcomes["violation"]++
		} else {
			sum.Outcomes[r.Outcome]++
		}
		if cfg.OnResult != nil {
			cfg.OnResult(r)
		}
	}
	start := time.Now()
	jobs := make(chan func())
	var wg sync.WaitGroup
	for range cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				j()
			}
		}()
	}
	for _, w := range ws {
		var tapFaults, run []string
		for _, f := range faults {
			if isRunFault(f) {
				run = append(run, f)
			} else {
				tapFaults = append(tapFaults, f)
			}
		}
		names, base := countRun(ctx, w, cfg.Seed)
		if base != nil {
			emit(Result{Case: Case{Seed: cfg.Seed, Workload: w.Name, At: -1, Fault: "none"}, Err: base})
			continue
		}
		if len(tapFaults) > 0 {
			jobs <- func() { sweep(ctx, cfg, w, tapFaults, emit) }
		}
		for k, op := range names {
			if !cfg.pickedRun(w, k) {
				continue
			}
			for _, f := range run {
				if !applies(f, op) {
					continue
				}
				for d := range cfg.RunDraws {
					if cfg.One && d != cfg.Draw {
						continue
					}
					c := Case{Seed: cfg.Seed, Workload: w.Name, At: k, Fault: f, Draw: d}
					jobs <- func() { emit(runCase(ctx, w, c, cfg.Wrap)) }
				}
			}
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(jobs)
	wg.Wait()
	sum.Elapsed = time.Since(start)
	sort.Slice(sum.Failed, func(i, j int) bool { return sum.Failed[i].Case.Name() < sum.Failed[j].Case.Name() })
	return sum, nil
}

// prepare fills in the defaults and finds the workloads and faults.
func (cfg *Config) prepare() ([]*Workload, []string, error) {
	if cfg.Draws <= 0 {
		cfg.Draws = 2
	}
	if cfg.RunDraws <= 0 {
		cfg.RunDraws = cfg.Draws
	}
	if cfg.One {
		cfg.RunDraws = cfg.Draws
	}
	if cfg.Sample == 0 {
		cfg.Sample = 0.25
	}
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	ws := Workloads()
	if cfg.Workloads != nil {
		ws = nil
		for _, n := range cfg.Workloads {
			w, err := FindWorkload(n)
			if err != nil {
				return nil, nil, err
			}
			ws = append(ws, w)
		}
	}
	faults := Faults()
	if cfg.Faults != nil {
		for _, f := range cfg.Faults {
			if !slices.Contains(faults, f) {
				return nil, nil, fmt.Errorf("crashtest: unknown fault %q (have %s)", f, strings.Join(faults, ", "))
			}
		}
		faults = cfg.Faults
	}
	return ws, faults, nil
}

// Plan lists the cases a campaign of cfg checks, in a fixed order, without
// checking them: it runs each workload once, without faults, to count its
// IO effects. A workload that fails without faults plans no case.
func Plan(ctx context.Context, cfg Config) ([]Case, error) {
	ws, faults, err := cfg.prepare()
	if err != nil {
		return nil, err
	}
	var out []Case
	for _, w := range ws {
		names, err := countRun(ctx, w, cfg.Seed)
		if err != nil {
			continue
		}
		for k, op := range names {
			for _, after := range []bool{false, true} {
				if !cfg.picked(w, k) || (cfg.One && after != cfg.After) {
					continue
				}
				for _, f := range faults {
					if isRunFault(f) {
						continue
					}
					for d := range cfg.Draws {
						if !cfg.One || d == cfg.Draw {
							out = append(out, Case{Seed: cfg.Seed, Workload: w.Name, At: k, After: after, Fault: f, Draw: d})
						}
					}
				}
			}
			for _, f := range faults {
				if !isRunFault(f) || !applies(f, op) || !cfg.pickedRun(w, k) {
					continue
				}
				for d := range cfg.RunDraws {
					if !cfg.One || d == cfg.Draw {
						out = append(out, Case{Seed: cfg.Seed, Workload: w.Name, At: k, Fault: f, Draw: d})
					}
				}
			}
		}
	}
	return out, nil
}

// picked reports whether crash point k of w is in the campaign.
func (cfg *Config) picked(w *Workload, k int) bool {
	if cfg.One {
		return k == cfg.At
	}
	if !w.Sampled || cfg.Sample >= 1 {
		return true
	}
	return float64(mix(cfg.Seed, w.Name, uint64(k))%1_000_000)/1e6 < cfg.Sample
}

// pickedRun reports whether the run faults strike effect k of w: every
// effect of a workload that asks for it, else the crash points picked.
func (cfg *Config) pickedRun(w *Workload, k int) bool {
	if w.RunAll && !cfg.One {
		return true
	}
	return cfg.picked(w, k)
}

// countRun runs w without faults and lists the names of its IO effects;
// a violation in a run without faults is returned as an error.
func countRun(ctx context.Context, w *Workload, seed uint64) ([]string, error) {
	m := newMachine(ctx, w, seed)
	m.tap.names = []string{}
	m.run()
	if len(m.violations) > 0 {
		return nil, fmt.Errorf("workload %s without faults: %s", w.Name, strings.Join(m.violations, "; "))
	}
	return m.tap.names, nil
}

// sweep runs w once and, at every crash point picked, before and after the
// effect, checks every draw of every fault that strikes there.
func sweep(ctx context.Context, cfg Config, w *Workload, faults []string, emit func(Result)) {
	m := newMachine(ctx, w, cfg.Seed)
	m.wrap = cfg.Wrap
	ck := &checker{ctx: ctx, w: w}
	m.tap.fn = func(k int, after bool) {
		if ctx.Err() != nil || !cfg.picked(w, k) || (cfg.One && after != cfg.After) {
			return
		}
		for _, f := range faults {
			for d := range cfg.Draws {
				if cfg.One && d != cfg.Draw {
					continue
				}
				c := Case{Seed: cfg.Seed, Workload: w.Name, At: k, After: after, Fault: f, Draw: d}
				emit(diskCase(ck, m.fs, m.or, c))
			}
		}
	}
	m.run()
	if len(m.violations) > 0 {
		emit(Result{Case: Case{Seed: cfg.Seed, Workload: w.Name, At: -1, Fault: "none"}, Err: fmt.Errorf("%s", strings.Join(m.violations, "; "))})
	}
}

// diskCase crashes the state fs holds now under case c's fault and judges
// the disk it leaves.
func diskCase(ck *checker, fs *mock.FS, or *oracle, c Case) (res Result) {
	res.Case = c
	rnd := c.rand()
	or = or.clone()
	for i := range or.entries {
		if or.entries[i].status == InFlight {
			or.entries[i].status = Doubt
		}
	}
	crashKind := func() mock.FaultKind { return mock.FaultKinds()[rnd.IntN(len(mock.FaultKinds()))] }
	md := strict
	var img *mock.FS
	if k, err := mock.ParseFaultKind(c.Fault); err == nil {
		var rep mock.CrashReport
		img, rep = fs.Crash(mock.Fault{Kind: k, Seed: rnd.Uint64()}, rnd.Uint64())
		res.Detail = rep.String()
	} else {
		var rep mock.CrashReport
		img, rep = fs.Crash(mock.Fault{Kind: crashKind(), Seed: rnd.Uint64()}, rnd.Uint64())
		res.Detail = rep.String()
		switch c.Fault {
		case "bitflip", "zero-sector":
			kind := mock.BitFlip
			if c.Fault == "zero-sector" {
				kind = mock.ZeroSector
			}
			dmg, ok := img.Corrupt(kind, "", rnd.Uint64())
			if ok {
				res.Detail += "; " + dmg.String()
			}
			md = lossy
		case "bitflip-seal", "bitflip-covered":
			detail, ok := aimedFlip(ck, img, c.Fault, rnd)
			res.Detail += "; " + detail
			if ok {
				md = lossy
			}
		case "idx-missing", "idx-torn", "idx-bitflip", "kv-missing", "kv-torn", "kv-bitflip", "st-missing", "st-torn", "st-bitflip":
			res.Detail += "; " + indexFault(img, c.Fault, rnd)
			if c.Fault == "kv-bitflip" || c.Fault == "st-bitflip" {
				// Open reads a run's header and sparse index, not its
				// blocks (rule 8 of recovery): a flip in a block is
				// found by the read that takes it, as ErrCorrupt.
				md = lossy
			}
		case "recovery-crash":
			img, res.Detail = crashRecovery(ck, img, rnd, res.Detail)
		case "read-eio", "misdirect-read":
			out, detail, err := readFault(ck, img, or, c.Fault, rnd)
			res.Detail += "; " + detail
			if err != nil || out != "" {
				res.Outcome, res.Err = out, err
				return res
			}
		}
	}
	res.Outcome, res.Err = ck.check(img, or, md, rnd)
	return res
}

// aimedFlip flips a bit of img in a record that Open trusts to a store
// checkpoint (rule 8 of recovery): a seal (bitflip-seal), or a commit
// record the newest checkpoint covers (bitflip-covered), found by Dump.
// It reports what it did, and false when img has no such record.
func aimedFlip(ck *checker, img *mock.FS, fault string, rnd *rand.Rand) (string, bool) {
	var newest uint64
	for _, f := range img.Files() {
		name := path.Base(f.Path)
		var lsn uint64
		if n, err := fmt.Sscanf(name, "checkpoint-%016x.ckpt", &lsn); err == nil && n == 1 && lsn > newest {
			newest = lsn
		}
	}
	var cands []file.Record
	for r, err := range file.Dump(effect.Handle(ck.ctx, img.Clone(rnd.Uint64())), Dir) {
		if err != nil {
			break
		}
		switch {
		case fault == "bitflip-seal" && r.Type == "seal",
			fault == "bitflip-covered" && r.Type == "commit" && r.LSN <= newest:
			cands = append(cands, r)
		}
	}
	if len(cands) == 0 {
		return "no record to aim at", false
	}
	r := cands[rnd.IntN(len(cands))]
	d, ok := img.CorruptRange(mock.BitFlip, r.File, r.Offset, r.Offset+int64(r.Size), rnd.Uint64())
	if !ok {
		return "no durable byte to aim at", false
	}
	return fmt.Sprintf("%s in the %s record of LSN %d", d, r.Type, r.LSN), true
}

// indexFault damages one segment index file (idx-*) or kv run file
// (kv-*) of img, chosen with rnd: removes it (-missing), zeroes its last
// durable sector (-torn) or flips a bit of it (-bitflip). It reports what
// it did.
func indexFault(img *mock.FS, fault string, rnd *rand.Rand) string {
	prefix, suffix, what := "", ".idx", "index file"
	if strings.HasPrefix(fault, "kv-") {
		prefix, suffix, what = "kv-", ".run", "kv run file"
	}
	if strings.HasPrefix(fault, "st-") {
		prefix, suffix, what = "st-", ".run", "stream run file"
	}
	var cands []mock.FileInfo
	for _, f := range img.Files() {
		if !f.Dir && strings.HasPrefix(path.Base(f.Path), prefix) && strings.HasSuffix(f.Path, suffix) && f.Durable > 0 {
			cands = append(cands, f)
		}
	}
	if len(cands) == 0 {
		return "no " + what + " to strike"
	}
	f := cands[rnd.IntN(len(cands))]
	switch strings.TrimPrefix(strings.TrimPrefix(strings.TrimPrefix(fault, "idx"), "kv"), "st") {
	case "-missing":
		if err := img.Remove(f.Path); err != nil {
			return err.Error()
		}
		return fmt.Sprintf("removed %s", f.Path)
	case "-torn":
		d, ok := img.CorruptRange(mock.ZeroSector, f.Path, max(f.Durable-1, 0), f.Durable, rnd.Uint64())
		if !ok {
			return "no durable byte to zero"
		}
		return d.String()
	}
	d, ok := img.CorruptRange(mock.BitFlip, f.Path, 0, f.Durable, rnd.Uint64())
	if !ok {
		return "no durable byte to flip"
	}
	return d.String()
}

// crashRecovery opens img, crashes it at a random effect of its recovery,
// and returns the disk that second crash leaves.
func crashRecovery(ck *checker, img *mock.FS, rnd *rand.Rand, detail string) (*mock.FS, string) {
	probe := img.Clone(rnd.Uint64())
	if s, err := ck.open(probe); err == nil {
		_ = s // a probe: only its effect count matters
	}
	n := probe.Ops()
	if n == 0 {
		return img, detail
	}
	victim := img.Clone(rnd.Uint64())
	in := mock.Fail(rnd.IntN(n), mock.Any(), mock.Action{Kind: mock.ActCrash, After: rnd.IntN(2) == 0})
	victim.Inject(in)
	_, _ = ck.open(victim)
	kinds := []mock.FaultKind{mock.Drop, mock.Prefix, mock.Subset, mock.Torn, mock.Dirs}
	next, rep := victim.Crash(mock.Fault{Kind: kinds[rnd.IntN(len(kinds))], Seed: rnd.Uint64()}, rnd.Uint64())
	return next, fmt.Sprintf("%s; recovery crashed by %s of %d effects; then %s", detail, in, n, rep)
}

// readFault opens img with one read of its recovery failed (EIO) or
// misdirected. The open may fail, or succeed and serve exactly what it
// must; either way nothing acknowledged may be lost, which a clean open of
// what it left then shows. It returns an outcome or a violation when it
// decided the case, and "" to let the clean check decide.
func readFault(ck *checker, img *mock.FS, or *oracle, fault string, rnd *rand.Rand) (string, string, error) {
	probe := img.Clone(rnd.Uint64())
	counter := &readCounter{}
	if _, err := ck.openVia(probe, counter); err != nil {
		return "", "clean open failed", fmt.Errorf("recovery failed (invariant 10): %w", err)
	}
	if counter.n == 0 {
		return "", "recovery read nothing", nil
	}
	act := mock.Action{Kind: mock.ActEIO}
	if fault == "misdirect-read" {
		act = mock.Action{Kind: mock.ActMisdirect, N: (1 + rnd.IntN(8)) * mock.SectorSize * (1 - 2*rnd.IntN(2))}
	}
	victim := img.Clone(rnd.Uint64())
	in := mock.Fail(rnd.IntN(counter.n), mock.Reads(), act)
	victim.Inject(in)
	detail := fmt.Sprintf("%s of %d recovery reads", in, counter.n)
	s, err := ck.open(victim)
	out := ""
	if err != nil {
		out = outRefused
	} else {
		v, err := ck.view(s, victim)
		if err == nil {
			if _, _, d := or.resolve(v); d != "" {
				return "", detail, fmt.Errorf("served after a read fault in recovery (invariant 5): %s", d)
			}
			err = s.Close(effect.Handle(ck.ctx, victim))
		}
		if err != nil && !typed(err) {
			return "", detail, fmt.Errorf("after a read fault in recovery: untyped error: %w", err)
		}
	}
	// Whatever the faulty recovery did, a clean one finds everything.
	after, _ := victim.Crash(mock.Fault{Kind: mock.Keep, Seed: rnd.Uint64()}, rnd.Uint64())
	res, err := ck.check(after, or, strict, rnd)
	if err != nil {
		return "", detail, fmt.Errorf("after a read fault in recovery: %w", err)
	}
	if out == "" {
		out = res
	}
	return out, detail, nil
}

type readCounter struct{ n int }

func (r *readCounter) Handle(p *effect.P, e effect.Effect) (any, error) {
	if e.EffectName() == platform.NameReadAt {
		r.n++
	}
	return p.Send(e)
}

// runCase runs w with run fault c.Fault injected at effect c.At, lets the
// workload go on, crashes at its end, and judges the run and the disk.
func runCase(ctx context.Context, w *Workload, c Case, wrap func(effect.Handler) effect.Handler) (res Result) {
	res.Case = c
	rnd := c.rand()
	m := newMachine(ctx, w, c.Seed)
	m.wrap = wrap
	var act mock.Action
	switch c.Fault {
	case "fsync-eio", "write-eio", "meta-eio":
		act = mock.Action{Kind: mock.ActEIO}
	case "enospc", "meta-enospc":
		act = mock.Action{Kind: mock.ActENOSPC}
	case "short-write":
		act = mock.Action{Kind: mock.ActShort}
	case "misdirect-write":
		act = mock.Action{Kind: mock.ActMisdirect, N: (1 + rnd.IntN(8)) * mock.SectorSize * (1 - 2*rnd.IntN(2))}
	}
	m.injectAt = c.At
	m.lossy = c.Fault == "misdirect-write"
	m.or.lenient = m.lossy
	m.inject = func(local int) *mock.Injector { return mock.Fail(0, mock.Index(local), act) }
	// Stop before the clean close: the machine crashes with the workload
	// done, whatever it left unsynced.
	steps := w.Steps
	if m.open() {
		for i, st := range steps {
			if m.stopped {
				break
			}
			m.step(i, st)
		}
	}
	if m.injected != nil {
		res.Detail = m.injected.String()
	}
	if len(m.violations) > 0 {
		res.Err = fmt.Errorf("during the run: %s", strings.Join(m.violations, "; "))
		return res
	}
	if m.cut {
		res.Outcome = outLost
		return res
	}
	for i := range m.or.entries {
		if m.or.entries[i].status == InFlight {
			m.or.entries[i].status = Doubt
		}
	}
	kinds := []mock.FaultKind{mock.Drop, mock.Prefix, mock.Torn, mock.Keep}
	img, rep := m.fs.Crash(mock.Fault{Kind: kinds[rnd.IntN(len(kinds))], Seed: rnd.Uint64()}, rnd.Uint64())
	res.Detail += "; then " + rep.String()
	md := strict
	if c.Fault == "misdirect-write" {
		md = lossy
	}
	ck := &checker{ctx: ctx, w: w}
	res.Outcome, res.Err = ck.check(img, m.or, md, rnd)
	return res
}

// mix hashes a seed, a name and a number into a seed.
func mix(seed uint64, name string, n uint64) uint64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d/%s/%d", seed, name, n)
	return h.Sum64()
}
