// Package blobtest is the conformance suite every blob store runs: the
// behaviours of package ops's blob operations (put, get, has, stat), its
// CID rule and its errors, each a named case under the suite "blob", so a
// store's test reports them as TestConformance/blob/CASE and the
// scoreboard prints "blob BACKEND N/N".
//
// A store's test calls [Run] with a [Factory] that opens a fresh, empty
// store for each case. Cases that need to damage stored bytes use the
// factory's Damage hook; a store that cannot offer one (a remote node)
// runs the others.
package blobtest
