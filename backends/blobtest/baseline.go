package blobtest

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// PlainCopy is the baseline a blob put is measured against: data copied
// durably into the file path, as a careful program would without a blob
// store (write a temporary file, fsync it, rename it into place, fsync the
// directory).
func PlainCopy(tb testing.TB, path string, data []byte) {
	tb.Helper()
	f, err := os.Create(path + ".tmp")
	require.NoError(tb, err)
	_, err = io.Copy(f, bytes.NewReader(data))
	require.NoError(tb, err)
	require.NoError(tb, f.Sync())
	require.NoError(tb, f.Close())
	require.NoError(tb, os.Rename(path+".tmp", path))
	d, err := os.Open(filepath.Dir(path))
	require.NoError(tb, err)
	require.NoError(tb, d.Sync())
	require.NoError(tb, d.Close())
}

// PlainRead is the baseline a blob get is measured against: the file at
// path read through.
func PlainRead(tb testing.TB, path string) {
	tb.Helper()
	f, err := os.Open(path)
	require.NoError(tb, err)
	_, err = io.Copy(io.Discard, f)
	require.NoError(tb, err)
	require.NoError(tb, f.Close())
}
