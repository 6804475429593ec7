package console_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/backends/file"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/server"
	"rose-ash.com/persist/server/console"
)

// Sizes of the store the figures are measured on.
const (
	figureStreams = 100_000
	figureEvents  = 10_000
	paintRounds   = 15
	liveAppends   = 200
)

// paint is what the browser measured of one page load, in milliseconds
// from the start of the navigation.
type paint struct {
	TTFB float64 `json:"ttfb"` // the first byte of the answer
	FCP  float64 `json:"fcp"`  // first contentful paint
}

// BenchmarkConsoleFigures measures, in headless Chromium, on a file store
// holding 100,000 streams and a stream of 10,000 events: the time to first
// contentful paint of the stream list and of that stream's first page
// (loaded alternately, paintRounds each), and how long an append takes to
// show in an open live page (liveAppends of them, one after another), from
// just before the append to the script putting its row in. Run it with
//
//	go test -run '^$' -bench ConsoleFigures -benchtime 1x -timeout 30m ./server/console/
//
// (writing the store takes minutes on a loaded machine: 1,100 commits,
// each synced). It reports medians and the 99th percentile as metrics, and
// logs them.
func BenchmarkConsoleFigures(b *testing.B) {
	ctx := context.Background()
	db, err := file.OpenDir(ctx, b.TempDir(), file.Options{})
	require.NoError(b, err)
	p := effect.Handle(ctx, db)
	seed(b, p, figureStreams, figureEvents)

	admin, adminTok := token(b, "root", "admin")
	srv, err := server.New(db, server.Options{Tokens: []server.Token{adminTok}})
	require.NoError(b, err)
	_, err = console.Mount(srv, db, console.Options{Backend: "file"})
	require.NoError(b, err)
	hs := httptest.NewServer(srv)
	b.Cleanup(func() {
		hs.Close()
		_ = srv.Shutdown(context.Background())
	})
	s := &site{fixture: &fixture{url: hs.URL, store: db, srv: srv}, admin: admin}

	for b.Loop() {
		tctx := tabFor(b, 10*time.Minute)
		s.signIn(b, tctx, admin, "/console/")

		var list, stream []paint
		for range paintRounds {
			list = append(list, load(b, tctx, hs.URL+"/console/", "#streams"))
			stream = append(stream, load(b, tctx, hs.URL+"/console/stream?name=big", "#events"))
		}
		rows := rowsOf(b, tctx)
		require.Equal(b, 50, rows, "the stream's first page")

		do(b, tctx, chromedp.Navigate(hs.URL+"/console/live?stream=big"))
		following(b, tctx)
		var shown, acked []float64
		for range liveAppends {
			start := time.Now()
			res, err := effect.Perform(p, ops.Append{Stream: "big", Events: []ops.EventData{{Type: "live", Data: []byte("{:x 1}")}}})
			require.NoError(b, err)
			acked = append(acked, ms(time.Since(start)))
			arrived := run(b, tctx, chromedp.Poll[string](fmt.Sprintf(
				`(document.querySelector('#live tbody tr[data-seq="%d"]') || {dataset: {}}).dataset.arrived || false`, res.Head),
				chromedp.WithPollingInterval(time.Millisecond), chromedp.WithPollingTimeout(10*time.Second)))
			at, err := strconv.ParseFloat(arrived, 64)
			require.NoError(b, err)
			shown = append(shown, at-float64(start.UnixNano())/1e6)
		}

		report := func(name string, xs []float64) {
			p50, p99 := percentile(xs, 50), percentile(xs, 99)
			b.ReportMetric(p50, name+"-p50-ms")
			b.ReportMetric(p99, name+"-p99-ms")
			b.Logf("%-22s p50 %7.2f ms  p99 %7.2f ms  (n=%d)", name, p50, p99, len(xs))
		}
		pick := func(ps []paint, f func(paint) float64) []float64 {
			var out []float64
			for _, p := range ps {
				out = append(out, f(p))
			}
			return out
		}
		report("list-fcp", pick(list, func(p paint) float64 { return p.FCP }))
		report("list-ttfb", pick(list, func(p paint) float64 { return p.TTFB }))
		report("stream-fcp", pick(stream, func(p paint) float64 { return p.FCP }))
		report("stream-ttfb", pick(stream, func(p paint) float64 { return p.TTFB }))
		report("live-shown", shown)
		report("live-append-ack", acked)
	}
}

// load navigates to url, waits for the element sel, and gives the
// navigation's time to first byte and first contentful paint.
func load(t testing.TB, ctx context.Context, url, sel string) paint {
	t.Helper()
	do(t, ctx, chromedp.Navigate(url), chromedp.WaitReady(chromedp.CSS(sel)))
	return run(t, ctx, chromedp.Poll[paint](`(() => {
		const fcp = performance.getEntriesByName("first-contentful-paint")[0];
		const nav = performance.getEntriesByType("navigation")[0];
		return fcp && nav ? {ttfb: nav.responseStart, fcp: fcp.startTime} : false;
	})()`, chromedp.WithPollingTimeout(10*time.Second)))
}

func rowsOf(t testing.TB, ctx context.Context) int {
	return run(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll("#events tbody tr").length`))
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// percentile is the q-th percentile of xs (nearest rank).
func percentile(xs []float64, q float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(q/100*float64(len(s))+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}
