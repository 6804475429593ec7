package file

import (
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// docBloomBits is the filter's bits for key as the package doc writes
// them out (Kv run files), apart from the code: block hi mod nb of the
// 64-bit FNV-1a hash, bit i at (lo + i*(hi|1)) mod 32768.
func docBloomBits(key string, nb int) (int, []uint32) {
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	for _, c := range []byte(key) {
		h = (h ^ uint64(c)) * prime
	}
	lo, hi := uint32(h), uint32(h>>32)
	var bits []uint32
	for i := range uint32(7) {
		bits = append(bits, (lo+i*(hi|1))%32768)
	}
	return int(uint64(hi) % uint64(nb)), bits
}

// The filter's hashing is fixed, since it lies on disk: the hash of
// known strings, the bits the doc describes, and the bytes of a filter
// of fixed keys are what the format says and stay so from one version
// of the program to the next. No key added is ever missed.
func TestKvBloomStable(t *testing.T) {
	require.Equal(t, uint64(0xcbf29ce484222325), kvKeyHash(""))
	require.Equal(t, uint64(0xaf63dc4c8601ec8c), kvKeyHash("a"))
	require.Equal(t, uint64(0x85944171f73967e8), kvKeyHash("foobar"))
	for _, nb := range []int{1, 2, 3, 7, 64} {
		for i := range 2000 {
			k := fmt.Sprintf("key/%d", i)
			blk, bits := docBloomBits(k, nb)
			require.Equal(t, blk, bloomBlockOf(k, nb))
			var got []uint32
			kvBloomBits(k, nb, func(b int, bit uint32) bool {
				require.Equal(t, blk, b)
				got = append(got, bit)
				return true
			})
			require.Equal(t, bits, got, "key %q, %d blocks", k, nb)
		}
	}
	sums := map[int]uint32{}
	for _, nb := range []int{1, 3} {
		f := make([]byte, nb*kvRunBlockSize)
		for i := range 5000 {
			bloomAdd(f, nb, fmt.Sprintf("k%05d", i))
		}
		sums[nb] = crc32.Checksum(f, castagnoli)
	}
	require.Equal(t, map[int]uint32{1: 0x1ff6afe6, 3: 0xda893041}, sums, "the filter bytes of fixed keys")
}

// No false negatives: every key added to a filter of any block count
// passes it, in the block it picks.
func TestKvBloomNoFalseNegatives(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 200 {
		n := 1 + rng.IntN(4000)
		nb := max(kvBloomBlocks(uint64(n)), 1+rng.IntN(3))
		f := make([]byte, nb*kvRunBlockSize)
		keys := make([]string, n)
		for i := range keys {
			b := make([]byte, rng.IntN(40))
			for j := range b {
				b[j] = byte(rng.Uint32())
			}
			keys[i] = string(b)
			bloomAdd(f, nb, keys[i])
		}
		for _, k := range keys {
			blk := bloomBlockOf(k, nb)
			require.True(t, bloomHas(f[blk*kvRunBlockSize:(blk+1)*kvRunBlockSize], k, nb), "key %q", k)
		}
	}
}

// FuzzKvBloom: keys added to a filter always pass it, whatever bytes
// they are and whatever the block count.
func FuzzKvBloom(f *testing.F) {
	f.Add([]byte("a\x00bc\x00"), uint8(1))
	f.Add([]byte("\xff\xfe\x00\x00k"), uint8(9))
	f.Fuzz(func(t *testing.T, b []byte, nb8 uint8) {
		nb := 1 + int(nb8%16)
		keys := []string{}
		start := 0
		for i, c := range b {
			if c == 0 {
				keys = append(keys, string(b[start:i]))
				start = i + 1
			}
		}
		keys = append(keys, string(b[start:]))
		fl := make([]byte, nb*kvRunBlockSize)
		for _, k := range keys {
			bloomAdd(fl, nb, k)
		}
		for _, k := range keys {
			blk := bloomBlockOf(k, nb)
			if blk < 0 || blk >= nb {
				t.Fatalf("block %d of %d", blk, nb)
			}
			if !bloomHas(fl[blk*kvRunBlockSize:(blk+1)*kvRunBlockSize], k, nb) {
				t.Fatalf("key %q missed", k)
			}
		}
	})
}
