// Package layout holds the tests that keep persist's package layout honest:
// imports point inward only, as DESIGN.md's table says, and every package
// has exactly one package doc.
package layout
