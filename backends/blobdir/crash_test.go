package blobdir_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/backends/blobdir"
	"rose-ash.com/persist/backends/blobtest"
	"rose-ash.com/persist/backends/mock"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/platform"
)

// crashBlobs is the crash workload's puts: a small blob, one of three
// chunks, and the small one again.
var crashBlobs = [][]byte{
	blobtest.Data(1000, 1),
	blobtest.Data(2*ops.BlobChunkBytes+77, 2),
	blobtest.Data(1000, 1),
}

// crashWorkload opens the store on fs and puts crashBlobs in order,
// answering how many puts returned before the first error.
func crashWorkload(fs *mock.FS) int {
	p := effect.Handle(context.Background(), fs)
	s, err := blobdir.Open(p, "/data", blobdir.Options{})
	if err != nil {
		return 0
	}
	for i, b := range crashBlobs {
		if _, err := s.Handle(p, ops.BlobPut{Body: bytes.NewReader(b)}); err != nil {
			return i
		}
	}
	return len(crashBlobs)
}

// TestCrashEveryEffect crashes the store before and after every IO effect
// of the workload, under every crash fault of the mock platform, reopens
// it on what survived and checks: Open succeeds and leaves nothing under
// tmp; every put that returned reads back whole; a blob whose put had not
// returned is absent or whole, never damaged or partial; has agrees with
// get; and the store takes a new put.
func TestCrashEveryEffect(t *testing.T) {
	full := mock.New(1, mock.Options{})
	require.Equal(t, len(crashBlobs), crashWorkload(full))
	n := full.Ops()
	require.Greater(t, n, 20)
	checked := 0
	for k := 0; k <= n; k++ {
		for _, after := range []bool{false, true} {
			fs := mock.New(1, mock.Options{})
			fs.Inject(mock.Fail(k, mock.Any(), mock.Action{Kind: mock.ActCrash, After: after}))
			acked := crashWorkload(fs)
			for _, kind := range mock.FaultKinds() {
				fault := mock.Fault{Kind: kind, Seed: uint64(1000*k + 7)}
				name := fmt.Sprintf("k%d-after%v-%s", k, after, kind)
				disk, _ := fs.Crash(fault, 2)
				if err := checkCrashed(disk, acked); err != nil {
					t.Errorf("%s: %v (reproduce: crash at effect %d after=%v, %s)", name, err, k, after, fault)
				}
				checked++
			}
		}
	}
	t.Logf("%d crash points, %d crashed disks checked", n+1, checked)
}

func checkCrashed(disk *mock.FS, acked int) error {
	p := effect.Handle(context.Background(), disk)
	s, err := blobdir.Open(p, "/data", blobdir.Options{})
	if err != nil {
		return fmt.Errorf("open after crash: %w", err)
	}
	if ents, err := effect.Perform(p, platform.List{Dir: "/data/tmp"}); err != nil || len(ents) != 0 {
		return fmt.Errorf("tmp after open: %v, %v", ents, err)
	}
	for i, b := range crashBlobs {
		c := ops.BlobCID(b)
		var out bytes.Buffer
		_, err := s.Handle(p, ops.BlobGet{CID: c, To: &out})
		has, herr := s.Handle(p, ops.BlobHas{CID: c})
		if herr != nil {
			return fmt.Errorf("has blob %d: %w", i, herr)
		}
		switch {
		case err == nil:
			if !bytes.Equal(out.Bytes(), b) {
				return fmt.Errorf("blob %d served with other bytes", i)
			}
			if has != true {
				return fmt.Errorf("blob %d reads back but has says no", i)
			}
		case errors.Is(err, ops.ErrBlobNotFound) && i >= acked:
			if out.Len() != 0 || has != false {
				return fmt.Errorf("missing blob %d wrote %d bytes, has %v", i, out.Len(), has)
			}
		default:
			return fmt.Errorf("blob %d (acknowledged %v): %w", i, i < acked, err)
		}
	}
	b := blobtest.Data(5000, 9)
	ref, err := s.Handle(p, ops.BlobPut{Body: bytes.NewReader(b)})
	if err != nil {
		return fmt.Errorf("put after recovery: %w", err)
	}
	var out bytes.Buffer
	if _, err := s.Handle(p, ops.BlobGet{CID: ref.(ops.BlobRef).CID, To: &out}); err != nil || !bytes.Equal(out.Bytes(), b) {
		return fmt.Errorf("get after recovery: %v", err)
	}
	return nil
}

// A failed fsync or write fails the put, and the blob is not served.
func TestPutIOErrors(t *testing.T) {
	for _, when := range []mock.Pred{mock.Syncs(), mock.Writes(), mock.Named(platform.NameRename)} {
		t.Run(when.String(), func(t *testing.T) {
			fs := mock.New(1, mock.Options{})
			p := effect.Handle(context.Background(), fs)
			s, err := blobdir.Open(p, "/data", blobdir.Options{})
			require.NoError(t, err)
			fs.Inject(mock.Fail(0, when, mock.Action{Kind: mock.ActEIO}))
			b := blobtest.Data(3000, 3)
			_, err = s.Handle(p, ops.BlobPut{Body: bytes.NewReader(b)})
			require.Error(t, err)
			has, err := s.Handle(p, ops.BlobHas{CID: ops.BlobCID(b)})
			require.NoError(t, err)
			assert.Equal(t, false, has)
			ents, err := effect.Perform(p, platform.List{Dir: "/data/tmp"})
			require.NoError(t, err)
			assert.Empty(t, ents, "the tmp file is removed")
		})
	}
}
