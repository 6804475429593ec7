//go:build !race

package ipfs_test

const raceEnabled = false
