package file

import (
	"bufio"
	"bytes"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// scaleMem is what the resident set of a BenchmarkScaleOpen child is made
// of at one point (PERSIST_SCALE_MEMDETAIL=1 reports it after the reads
// of every stream): the collector's figures (runtime.MemStats), the
// resident pages of each cache ring (mincore over the ring's mapping),
// and /proc/self/smaps summed by kind of mapping. All in MiB.
type scaleMem struct {
	Point string
	RSS   float64 // VmRSS now
	HWM   float64 // VmHWM

	// runtime.MemStats
	HeapAlloc, HeapInuse, HeapSys, HeapIdleKept, HeapReleased   float64 // HeapIdleKept: HeapIdle-HeapReleased
	StackSys, GCSys, MSpanSys, MCacheSys, BuckHashSys, OtherSys float64
	Sys, NextGC, TotalAllocMiB                                  float64
	NumGC                                                       uint32
	Goroutines                                                  int

	// The cache rings: resident bytes of each (mincore), and entries.
	ReadRing, IndexRing, KvRing float64
	ReadEntries, IndexEntries   int
	DirSteps                    int // entries of the chain step cache
	DirStepsBytes               int // as it counts them
	Filters                     float64
	FilterCount                 int

	// /proc/self/smaps: Rss by kind of mapping.
	AnonRss      float64 // anonymous mappings (the Go heap, stacks, runtime, rings)
	BinaryRss    float64 // mappings of the test binary (text, data)
	OtherFileRss float64 // other file mappings (vdso, libraries)
	BinaryText   float64 // of BinaryRss, the executable mapping
	AnonMaps     int
	BigAnon      []string // anonymous mappings with 1 MiB or more resident: "size/rss"
}

const mib = 1 << 20

// measureScaleMem takes a scaleMem of s at point.
func measureScaleMem(s *Store, point string) scaleMem {
	m := scaleMem{Point: point, RSS: procStatus("VmRSS:") / mib, HWM: procStatus("VmHWM:") / mib}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	f := func(v uint64) float64 { return float64(v) / mib }
	m.HeapAlloc, m.HeapInuse, m.HeapSys = f(ms.HeapAlloc), f(ms.HeapInuse), f(ms.HeapSys)
	m.HeapIdleKept, m.HeapReleased = f(ms.HeapIdle-ms.HeapReleased), f(ms.HeapReleased)
	m.StackSys, m.GCSys, m.MSpanSys, m.MCacheSys = f(ms.StackSys), f(ms.GCSys), f(ms.MSpanSys), f(ms.MCacheSys)
	m.BuckHashSys, m.OtherSys, m.Sys, m.NextGC = f(ms.BuckHashSys), f(ms.OtherSys), f(ms.Sys), f(ms.NextGC)
	m.TotalAllocMiB, m.NumGC, m.Goroutines = f(ms.TotalAlloc), ms.NumGC, runtime.NumGoroutine()

	ring := func(c *recCache) (float64, int) {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.ring == nil || !c.ring.mapped {
			return 0, c.idx.len()
		}
		return float64(ringResident(c.ring.b)) / mib, c.idx.len()
	}
	m.ReadRing, m.ReadEntries = ring(&s.cache)
	m.IndexRing, m.IndexEntries = ring(&s.idx.cache)
	m.KvRing, _ = ring(&s.kvBlocks)
	s.steps.mu.Lock()
	m.DirSteps, m.DirStepsBytes = len(s.steps.m), s.steps.bytes
	s.steps.mu.Unlock()
	s.idx.mu.Lock()
	var fb int
	for _, b := range s.idx.filters {
		fb += len(b)
	}
	m.Filters, m.FilterCount = float64(fb)/mib, len(s.idx.filters)
	s.idx.mu.Unlock()
	m.smaps()
	return m
}

// smaps sums /proc/self/smaps by kind of mapping.
func (m *scaleMem) smaps() {
	data, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		return
	}
	exe, _ := os.Executable()
	var path, perms string
	var size float64
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		if strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":") {
			// A mapping's header: range perms offset dev inode [path].
			path, perms = "", fields[1]
			if len(fields) >= 6 {
				path = fields[5]
			}
			if lo, hi, ok := strings.Cut(fields[0], "-"); ok {
				a, _ := strconv.ParseUint(lo, 16, 64)
				b, _ := strconv.ParseUint(hi, 16, 64)
				size = float64(b-a) / mib
			}
			continue
		}
		if fields[0] != "Rss:" || len(fields) < 2 {
			continue
		}
		kb, _ := strconv.Atoi(fields[1])
		rss := float64(kb) * 1024 / mib
		switch {
		case path == "" || strings.HasPrefix(path, "[heap]") || strings.HasPrefix(path, "[stack"):
			m.AnonRss += rss
			m.AnonMaps++
			if rss >= 1 {
				m.BigAnon = append(m.BigAnon, strconv.FormatFloat(size, 'f', 1, 64)+"/"+strconv.FormatFloat(rss, 'f', 1, 64))
			}
		case path == exe:
			m.BinaryRss += rss
			if strings.Contains(perms, "x") {
				m.BinaryText += rss
			}
		default:
			m.OtherFileRss += rss
		}
	}
}

// procStatus gives a field of /proc/self/status in bytes (0 if absent).
func procStatus(field string) float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field); ok {
			kb, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			if err == nil {
				return float64(kb) * 1024
			}
		}
	}
	return 0
}
