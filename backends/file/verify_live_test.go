package file

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/platform"
)

// liveWriterEnv names the data directory the helper process appends to.
const liveWriterEnv = "PERSIST_FILE_LIVE_WRITER"

// liveOpts make the writer roll segments and write and remove store
// checkpoints often, so that a verify beside it meets all of that.
var liveOpts = Options{SegmentSize: minSegmentSize, CheckpointBytes: 24 << 10}

// liveWriter is the writer process of TestVerifyDumpBesideWriter: TestMain
// calls it instead of the tests when liveWriterEnv is set, so that it
// never counts as a test. It opens the store in dir for writing, says
// "ready", and appends until it is killed.
func liveWriter(dir string) {
	osh := &platform.OS{}
	s, err := Open(effect.Handle(context.Background(), osh), dir, liveOpts)
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(1)
	}
	fmt.Println("ready")
	sp := effect.Handle(context.Background(), s, osh)
	for i := 0; ; i++ {
		evs := make([]ops.EventData, 1+i%3)
		for j := range evs {
			evs[j] = ops.EventData{Type: "t", Data: []byte(fmt.Sprintf("%d-%d-%s", i, j, strings.Repeat("d", 100+i%1500)))}
		}
		c := ops.Commit{Appends: []ops.Append{{Stream: fmt.Sprintf("s%d", i%5), Events: evs}}}
		if i%4 == 0 {
			c.Kv = []ops.KvChange{{Key: fmt.Sprintf("k%d", i%9), Value: []byte(fmt.Sprint(i))}}
		}
		if _, err := effect.Perform(sp, c); err != nil {
			fmt.Println("append:", err)
			os.Exit(1)
		}
	}
}

// Verify and Dump beside a writer in another process that keeps
// appending, rolling segments and writing and removing checkpoints: they
// check the log below the end they find at their start and never report
// damage that is not there (they once did: "two reads of the end of the
// log disagree"). Once the writer is killed, an exact Verify of what it
// left agrees too.
func TestVerifyDumpBesideWriter(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a writer process for a few seconds")
	}
	dir := t.TempDir() + "/data"
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), liveWriterEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	killed := false
	defer func() {
		if !killed {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}()
	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "ready\n", line)

	p := effect.Handle(context.Background(), &platform.OS{})
	var lastLSN uint64
	rounds, dumped := 0, 0
	for deadline := time.Now().Add(4 * time.Second); time.Now().Before(deadline) || rounds < 10; rounds++ {
		rep, err := Verify(p, dir)
		require.NoError(t, err, "verify round %d beside a writer", rounds)
		assert.True(t, rep.Live, "the writer holds the lock")
		assert.GreaterOrEqual(t, rep.LSN, lastLSN, "the log only grows")
		lastLSN = rep.LSN
		var prev Record
		for r, err := range Dump(p, dir) {
			require.NoError(t, err, "dump round %d beside a writer after %d records", rounds, dumped)
			if prev.LSN != 0 {
				require.Equal(t, prev.LSN+1, r.LSN)
			}
			prev = r
			dumped++
		}
	}
	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()
	killed = true
	rep, err := Verify(p, dir)
	require.NoError(t, err, "the store a killed writer left")
	assert.False(t, rep.Live)
	assert.GreaterOrEqual(t, rep.LSN, lastLSN)
	assert.Greater(t, rep.Segments, 1, "the writer rolled")
	t.Logf("%d rounds of verify and dump beside the writer, %d records dumped, %d segments, LSN %d at the end", rounds, dumped, rep.Segments, rep.LSN)
	s, err := Open(p, dir, liveOpts)
	require.NoError(t, err)
	require.NoError(t, s.Close(p))
}
