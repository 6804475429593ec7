package file

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/platform"
)

// compactBenchStore writes, once per benchmark, a store of about 32 MiB
// in 4 MiB segments where one event in eleven stays visible: stream
// "old" of 3,000 events of 10 KiB limited to its last one, and stream
// "live" of 300 interleaved. It returns the directory.
func compactBenchStore(b *testing.B) string {
	b.Helper()
	dir := filepath.Join(b.TempDir(), "pristine")
	h := &platform.OS{}
	p := effect.Handle(context.Background(), h)
	s, err := Open(p, dir, Options{SegmentSize: 4 << 20})
	if err != nil {
		b.Fatal(err)
	}
	sp := effect.Handle(context.Background(), s, h)
	data := []byte(strings.Repeat("e", 10<<10))
	for i := range 3000 {
		if _, err := effect.Perform(sp, ops.Append{Stream: "old", Events: []ops.EventData{{Type: "t", Data: data}}}); err != nil {
			b.Fatal(err)
		}
		if i%10 == 0 {
			if _, err := effect.Perform(sp, ops.Append{Stream: "live", Events: []ops.EventData{{Type: "t", Data: data}}}); err != nil {
				b.Fatal(err)
			}
		}
	}
	if _, err := effect.Perform(sp, ops.StreamMetaWrite{Stream: "old", Meta: ops.StreamMeta{MaxCount: 1}}); err != nil {
		b.Fatal(err)
	}
	if err := s.Close(p); err != nil {
		b.Fatal(err)
	}
	return dir
}

// copyTree copies dir to dst, each file read and written sequentially
// and fsynced: the raw baseline of a compaction's IO. It returns the
// bytes of the segments copied.
func copyTree(b *testing.B, dir, dst string, segsOnly bool) int64 {
	b.Helper()
	var n int64
	err := filepath.Walk(dir, func(path string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		out := filepath.Join(dst, rel)
		if fi.IsDir() {
			return os.MkdirAll(out, 0o755)
		}
		isSeg := filepath.Ext(path) == ".log"
		if segsOnly && !isSeg {
			return nil
		}
		in, err := os.Open(path)
		if err != nil {
			return err
		}
		defer in.Close()
		f, err := os.Create(out)
		if err != nil {
			return err
		}
		c, err := io.CopyBuffer(f, in, make([]byte, 1<<20))
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if isSeg {
			n += c
		}
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	return n
}

func p99(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return ds[len(ds)*99/100]
}

// BenchmarkCompact sets, in one run and alternating, a compaction of the
// store of compactBenchStore beside a raw copy of its segments (read,
// write, fsync), and the p99 of one-event commits to another stream
// while the compaction runs beside that of the same commits without it.
// It reports the sealed bytes compaction reads per second (compact-MB/s),
// the raw copy's (copy-MB/s), their ratio, the two p99s and the bytes
// reclaimed against stat's prediction and against what du sees freed.
func BenchmarkCompact(b *testing.B) {
	pristine := compactBenchStore(b)
	var compactT, copyT time.Duration
	var sealedBytes, copied int64
	var with, without []time.Duration
	var predicted, reclaimed, freed int64
	h := &platform.OS{}
	for i := 0; i < b.N; i++ {
		work := filepath.Join(b.TempDir(), fmt.Sprint("w", i))
		copyTree(b, pristine, work, false)
		p := effect.Handle(context.Background(), h)
		s, err := Open(p, work, Options{SegmentSize: 4 << 20})
		if err != nil {
			b.Fatal(err)
		}
		sp := effect.Handle(context.Background(), s, h)
		st, err := effect.Perform(sp, ops.Stat{})
		if err != nil {
			b.Fatal(err)
		}
		predicted += int64(st.BytesReclaimable)

		// Commits alone, for as long as the last compaction took (at
		// least 200 ms).
		span := max(compactT/time.Duration(max(i, 1)), 200*time.Millisecond)
		commit := func(stop <-chan struct{}, out *[]time.Duration) {
			for j := 0; ; j++ {
				select {
				case <-stop:
					return
				default:
				}
				t0 := time.Now()
				if _, err := effect.Perform(sp, ops.Append{Stream: "w", Events: []ops.EventData{{Type: "t", Data: body}}}); err != nil {
					b.Error(err)
					return
				}
				*out = append(*out, time.Since(t0))
			}
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { defer wg.Done(); commit(stop, &without) }()
		time.Sleep(span)
		close(stop)
		wg.Wait()

		blocks := diskBlocksB(b, filepath.Join(work, "log"))
		stop = make(chan struct{})
		wg.Add(1)
		go func() { defer wg.Done(); commit(stop, &with) }()
		t0 := time.Now()
		res, err := s.Compact(p, CompactOptions{})
		compactT += time.Since(t0)
		close(stop)
		wg.Wait()
		if err != nil {
			b.Fatal(err)
		}
		reclaimed += res.Bytes
		freed += (blocks - diskBlocksB(b, filepath.Join(work, "log"))) * 512
		for _, seg := range s.segs {
			if seg != s.active {
				fi, err := os.Stat(seg.path)
				if err != nil {
					b.Fatal(err)
				}
				sealedBytes += fi.Size()
			}
		}
		if err := s.Close(p); err != nil {
			b.Fatal(err)
		}

		t0 = time.Now()
		copied += copyTree(b, filepath.Join(pristine, "log"), filepath.Join(b.TempDir(), fmt.Sprint("c", i)), true)
		copyT += time.Since(t0)
	}
	cmb := float64(sealedBytes) / compactT.Seconds() / (1 << 20)
	rmb := float64(copied) / copyT.Seconds() / (1 << 20)
	b.ReportMetric(cmb, "compact-MB/s")
	b.ReportMetric(rmb, "copy-MB/s")
	b.ReportMetric(cmb/rmb, "compact/copy")
	b.ReportMetric(float64(p99(without).Microseconds()), "p99-alone-µs")
	b.ReportMetric(float64(p99(with).Microseconds()), "p99-compacting-µs")
	b.ReportMetric(float64(reclaimed)/float64(predicted), "reclaimed/predicted")
	b.ReportMetric(float64(freed)/float64(reclaimed), "freed/reclaimed")
	b.ReportMetric(float64(reclaimed)/float64(b.N), "reclaimed-B/op")
}

func diskBlocksB(b *testing.B, dir string) int64 {
	b.Helper()
	var n int64
	err := filepath.Walk(dir, func(path string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if st, ok := statBlocks(fi); ok && !fi.IsDir() && filepath.Ext(path) == ".log" {
			n += st
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return n
}
