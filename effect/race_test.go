//go:build race

package effect_test

const raceEnabled = true
