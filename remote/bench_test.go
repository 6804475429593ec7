package remote_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/remote"
	"rose-ash.com/persist/server"
)

// The workloads W1-W3 side by side: on the embedded file store, and
// through a server of the same kind of store on loopback. Bodies are 200
// bytes of JSON text, as events usually carry (backends/file's benchmarks
// use zeros, which the wire would carry escaped).
//
// Each benchmark runs its targets one after the other; -count repeats a
// target before the next one starts. On a shared machine, alternate whole
// runs instead and compare the medians, with the load beside them:
//
//	go test -c -o remote.test ./remote
//	for i in 1 2 3; do
//		uptime
//		./remote.test -test.run '^$' -test.bench 'W1|W2|W3|KvGet' -test.benchtime 1s
//		./remote.test -test.run '^$' -test.bench Followers -test.benchtime 100x
//	done
//
// cpu-µs/op, the CPU time of the process per operation (server, clients
// and store alike; for Followers the server's alone), is steadier under
// load than the time per operation.

var body = []byte(`{"order":17,"customer":"c-0042","lines":[{"sku":"A-1","qty":2},{"sku":"B-7","qty":1}],"note":"` + strings.Repeat("x", 200-101) + `"}`)

// benchTarget is one way of reaching a fresh file store: open gives a
// factory of perform handles, called once per writer.
type benchTarget struct {
	name string
	open func(b *testing.B) (func() *effect.P, *fileBackend)
}

// remoteTarget serves a fresh file store on loopback. With perWriter each
// call of the factory dials a client of its own (a connection of its own,
// as separate processes would have); otherwise the writers share one
// client.
func remoteTarget(name string, copts remote.Options, perWriter bool) benchTarget {
	return benchTarget{name, func(b *testing.B) (func() *effect.P, *fileBackend) {
		store := fileStore(b, filepath.Join(b.TempDir(), "data"))
		c, url := serve(b, store, server.Options{}, copts)
		b.Cleanup(func() { _ = c.Close() })
		if !perWriter {
			return func() *effect.P { return effect.Handle(context.Background(), c) }, store
		}
		return func() *effect.P {
			own, err := remote.Dial(url, copts)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = own.Close() })
			return effect.Handle(context.Background(), own)
		}, store
	}}
}

var embeddedTarget = benchTarget{"embedded", func(b *testing.B) (func() *effect.P, *fileBackend) {
	s := fileStore(b, filepath.Join(b.TempDir(), "data"))
	b.Cleanup(func() { _ = s.Close() })
	return func() *effect.P { return effect.Handle(context.Background(), s) }, s
}}

// benchTargets are the ways of reaching a store that W1 and W3 compare.
func benchTargets() []benchTarget {
	return []benchTarget{
		embeddedTarget,
		remoteTarget("remote", remote.Options{}, false),
		remoteTarget("remote-op", remote.Options{NoPipe: true}, false),
		remoteTarget("remote-gather", remote.Options{NoPipe: true, Gather: true}, false),
	}
}

// reportCPU reports the CPU time per operation since start: on a shared,
// loaded machine a steadier figure of cost than the time per operation.
func reportCPU(b *testing.B, start time.Duration, perOp int) {
	if b.N > 0 {
		b.ReportMetric(float64((cpuTime()-start).Microseconds())/float64(b.N*perOp), "cpu-µs/op")
	}
}

func percentile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return ds[min(len(ds)-1, int(q*float64(len(ds))))]
}

// W1: one writer, one event per durable append; p50 latency beside the
// rate.
func BenchmarkW1(b *testing.B) {
	for _, tg := range benchTargets() {
		b.Run(tg.name, func(b *testing.B) {
			mk, _ := tg.open(b)
			p := mk()
			ev := []ops.EventData{{Type: "t", Data: body}}
			var lat []time.Duration
			cpu := cpuTime()
			for b.Loop() {
				start := time.Now()
				if _, err := effect.Perform(p, ops.Append{Stream: "s", Events: ev}); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(start))
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
			b.ReportMetric(float64(percentile(lat, 0.5).Microseconds()), "p50-µs")
			reportCPU(b, cpu, 1)
		})
	}
}

// W2: 64 writers, each appending one event at a time to its own stream;
// through the server sharing one client (one connection per writer in
// flight, HTTP/1.1), sharing one client that gathers, and each with a
// client of its own. appends/sync is the group commit's reach: appends per
// fdatasync of the store.
func BenchmarkW2(b *testing.B) {
	targets := append(benchTargets(), remoteTarget("remote-clients", remote.Options{}, true))
	for _, tg := range targets {
		b.Run(tg.name, func(b *testing.B) {
			mk, store := tg.open(b)
			syncs := store.syncs.Load()
			var next atomic.Int32
			ev := []ops.EventData{{Type: "t", Data: body}}
			b.SetParallelism(max(1, 64/runtimeProcs()))
			cpu := cpuTime()
			b.RunParallel(func(pb *testing.PB) {
				p := mk()
				stream := fmt.Sprintf("w%d", next.Add(1))
				for pb.Next() {
					if _, err := effect.Perform(p, ops.Append{Stream: stream, Events: ev}); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
			b.ReportMetric(float64(b.N)/float64(max(1, store.syncs.Load()-syncs)), "appends/sync")
			reportCPU(b, cpu, 1)
		})
	}
}

// W3: appends of 1,000 events to one stream.
func BenchmarkW3(b *testing.B) {
	for _, tg := range benchTargets() {
		b.Run(tg.name, func(b *testing.B) {
			mk, _ := tg.open(b)
			p := mk()
			batch := make([]ops.EventData, 1000)
			for i := range batch {
				batch[i] = ops.EventData{Type: "t", Data: body}
			}
			cpu := cpuTime()
			for b.Loop() {
				if _, err := effect.Perform(p, ops.Append{Stream: "s", Events: batch}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)*1000/b.Elapsed().Seconds(), "events/s")
			reportCPU(b, cpu, 1000)
		})
	}
}

// KvGet: one kv-get's round trip, embedded and over the wire in each
// notation.
func BenchmarkKvGet(b *testing.B) {
	run := func(b *testing.B, p *effect.P) {
		if _, err := effect.Perform(p, ops.KvPut{Key: "k", Value: []byte("a value of some length")}); err != nil {
			b.Fatal(err)
		}
		cpu := cpuTime()
		for b.Loop() {
			if _, err := effect.Perform(p, ops.KvGet{Key: "k"}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/op")
		reportCPU(b, cpu, 1)
	}
	b.Run("embedded", func(b *testing.B) {
		s := memStore()
		defer s.Close()
		run(b, effect.Handle(context.Background(), s))
	})
	for _, json := range []bool{false, true} {
		name := "sx"
		if json {
			name = "json"
		}
		b.Run(name, func(b *testing.B) {
			c, _ := serve(b, memStore(), server.Options{}, remote.Options{JSON: json})
			defer c.Close()
			run(b, effect.Handle(context.Background(), c))
		})
	}
}

// Followers: 1,000 follows of one stream over SSE; p99 from an append's
// acknowledgement to its delivery at every follower (0 when a follower had
// it before the appender had its answer), and the server's memory with
// the follows open (server-follows-MiB: heap and stacks in use, after a
// collection, less those before the server started; server-rss-MiB: the
// resident set of the process). The follows run in a child process (this
// test binary again, as TestFollowersHost), so that the memory and CPU
// figures of this process are the server's (and the appender's) alone;
// cpu-µs/op is per delivery, the server's, and client-cpu-µs/op the
// followers'. They travel over HTTP/1.1, a connection each, or over
// HTTP/2 (h2c), many follows to a connection.
func BenchmarkFollowers(b *testing.B) {
	b.Run("h1", func(b *testing.B) { benchFollowers(b, false) })
	b.Run("h2c", func(b *testing.B) { benchFollowers(b, true) })
}

const followersEnv = "PERSIST_BENCH_FOLLOWERS"

func benchFollowers(b *testing.B, h2 bool) {
	const followers = 1000
	mem0 := memInUse()
	c, url := serve(b, memStore(), server.Options{Limits: server.Limits{Follows: followers}}, remote.Options{})
	defer c.Close()
	p := effect.Handle(context.Background(), c)
	// Each follower first sees a marker event, so all are live before
	// the timing starts.
	if _, err := effect.Perform(p, ops.Append{Stream: "s", Events: []ops.EventData{{Type: "marker"}}}); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %d %t", followersEnv, url, followers, h2))
	cmd.Stderr = os.Stderr
	toHost, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	lines := bufio.NewScanner(out)
	expect := func(prefix string) string {
		for lines.Scan() {
			if l := lines.Text(); strings.HasPrefix(l, prefix) {
				return strings.TrimPrefix(l, prefix)
			}
		}
		b.Fatalf("the followers' process ended before %q: %v", prefix, lines.Err())
		return ""
	}
	expect("ready")
	mem1, rss1 := memInUse(), rss()
	b.ResetTimer()
	cpu := cpuTime()
	for b.Loop() {
		r, err := effect.Perform(p, ops.Append{Stream: "s", Events: []ops.EventData{{Type: "t", Data: body}}})
		if err != nil {
			b.Fatal(err)
		}
		fmt.Fprintf(toHost, "ack %d %d\n", r.Head, time.Now().UnixNano())
		// Every follower has it before the next append.
		if got := expect("done "); got != strconv.FormatUint(r.Head, 10) {
			b.Fatalf("the followers finished %s, want %d", got, r.Head)
		}
	}
	b.StopTimer()
	reportCPU(b, cpu, followers)
	_ = toHost.Close()
	var p50, p99, clientCPU float64
	if _, err := fmt.Sscan(expect("result "), &p50, &p99, &clientCPU); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(p99, "p99-µs")
	b.ReportMetric(p50, "p50-µs")
	b.ReportMetric(clientCPU/float64(b.N*followers), "client-cpu-µs/op")
	b.ReportMetric(float64(int64(mem1)-int64(mem0))/(1<<20), "server-follows-MiB")
	b.ReportMetric(float64(rss1)/(1<<20), "server-rss-MiB")
}

// followersHost is the followers' side of BenchmarkFollowers, run in a
// process of its own: TestMain calls it instead of the tests when
// followersEnv is set, so that it never counts as a test. It follows stream "s" of the server with n follows, says "ready" once
// every one has seen the marker at seq 1, "done SEQ" once every one has
// SEQ, reads "ack SEQ UNIXNANO" lines from the benchmark, and at the end of
// its input says "result P50 P99 CPU": latencies in µs, its CPU time in µs.
func followersHost(env string) error {
	var (
		url string
		n   int
		h2  bool
	)
	if _, err := fmt.Sscan(env, &url, &n, &h2); err != nil {
		return fmt.Errorf("%s=%q: %w", followersEnv, env, err)
	}
	c, err := remote.Dial(url, remote.Options{HTTP2: h2})
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var (
		mu    sync.Mutex
		at    = map[uint64][]int64{} // delivery times by seq
		ready sync.WaitGroup
		out   = bufio.NewWriter(os.Stdout)
	)
	say := func(format string, args ...any) {
		fmt.Fprintf(out, format+"\n", args...)
		_ = out.Flush()
	}
	ready.Add(n)
	for range n {
		go func() {
			_, _ = c.Follow(ctx, remote.FollowOptions{Stream: "s"}, func(ev ops.Event) error {
				if ev.Seq == 1 {
					ready.Done()
					return nil
				}
				now := time.Now().UnixNano()
				mu.Lock()
				at[ev.Seq] = append(at[ev.Seq], now)
				if len(at[ev.Seq]) == n {
					say("done %d", ev.Seq)
				}
				mu.Unlock()
				return nil
			})
		}()
	}
	ready.Wait()
	cpu := cpuTime()
	say("ready")
	acked := map[uint64]int64{}
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		var seq uint64
		var ns int64
		if _, err := fmt.Sscanf(in.Text(), "ack %d %d", &seq, &ns); err == nil {
			mu.Lock()
			acked[seq] = ns
			mu.Unlock()
		}
	}
	used := cpuTime() - cpu
	mu.Lock()
	var lat []time.Duration
	for seq, ts := range at {
		for _, d := range ts {
			lat = append(lat, time.Duration(max(0, d-acked[seq])))
		}
	}
	mu.Unlock()
	say("result %d %d %d", percentile(lat, 0.5).Microseconds(), percentile(lat, 0.99).Microseconds(), used.Microseconds())
	return in.Err()
}

// memInUse is the memory the Go runtime holds for live objects and
// goroutine stacks, after a collection: unlike the resident set, it falls
// again when memory is freed, so two readings in one process compare.
func memInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse + ms.StackInuse
}

// rss is the process's resident set size in bytes, from /proc.
func rss() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

func runtimeProcs() int { return max(1, runtime.GOMAXPROCS(0)) }
