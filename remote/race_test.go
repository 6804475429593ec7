//go:build race

package remote_test

// raceEnabled: the race detector slows byte-heavy tests some tenfold.
const raceEnabled = true
