package console

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode/utf8"

	"rose-ash.com/persist/sx"
)

// width is the line width the pretty printer fills before it breaks a
// collection over several lines.
const width = 72

// Shown is data (an event's or a kv value's bytes) as the pages show it:
// pretty-printed in the notation asked for when it reads as SX or JSON,
// and otherwise as text or, when it is not UTF-8, as hex.
type Shown struct {
	Text string // what to show
	// Notation is "sx" or "json" when Text is the data pretty-printed,
	// "text" when it is the data itself, "hex" when the data is not UTF-8.
	Notation string
	// Why says why the data is not pretty-printed, when it is not.
	Why string
}

// show pretty-prints data in the notation as ("sx" or "json").
func show(data []byte, as string) Shown {
	var (
		text string
		err  error
	)
	if as == "json" {
		text, err = prettyJSON(data)
	} else {
		as = "sx"
		text, err = prettySX(data)
	}
	if err == nil {
		return Shown{Text: text, Notation: as}
	}
	if !utf8.Valid(data) {
		return Shown{Text: hexDump(data), Notation: "hex", Why: "the data is not UTF-8 text"}
	}
	return Shown{Text: string(data), Notation: "text", Why: "the data reads as neither SX nor JSON: " + err.Error()}
}

// preview is data on one line, at most n characters, for a table cell.
func preview(data []byte, n int) string {
	var s string
	if v, err := readData(data); err == nil {
		s = sx.Print(v)
	} else if utf8.Valid(data) {
		s = strings.Join(strings.Fields(string(data)), " ")
	} else {
		s = hexDump(data[:min(len(data), n/3+1)])
	}
	if utf8.RuneCountInString(s) > n {
		r := []rune(s)
		s = string(r[:n-1]) + "…"
	}
	return s
}

// readData reads data as the store's Go helpers do (sx.DataJSON): JSON
// first, then SX.
func readData(data []byte) (sx.Value, error) {
	if json.Valid(data) {
		return sx.FromJSON(data)
	}
	return sx.Read(string(data))
}

// prettySX is data as SX, broken over lines and indented when it does not
// fit the width. It reads back (sx.Read) as the value the data holds.
func prettySX(data []byte) (string, error) {
	v, err := readData(data)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	writeSX(&b, v, 0)
	return b.String(), nil
}

// prettyJSON is data as JSON (SX data converted as sx.DataJSON does),
// indented by two spaces.
func prettyJSON(data []byte) (string, error) {
	j, err := sx.DataJSON(data)
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	if err := json.Indent(&b, j, "", "  "); err != nil {
		return "", err
	}
	return b.String(), nil
}

// writeSX writes v at column col: on one line when it fits, else each
// element (each key and value of a dict) on a line of its own, indented
// one more step than the bracket.
func writeSX(b *strings.Builder, v sx.Value, col int) {
	flat := sx.Print(v)
	if col+len(flat) <= width || !isCollection(v) {
		b.WriteString(flat)
		return
	}
	pad := "\n" + strings.Repeat(" ", col+1)
	switch x := v.(type) {
	case sx.List:
		writeSeq(b, "(", ")", x, col, pad)
	case sx.Vector:
		writeSeq(b, "[", "]", x, col, pad)
	case *sx.Dict:
		b.WriteString("{")
		for i, e := range x.Entries() {
			if i > 0 {
				b.WriteString(pad)
			}
			k := sx.Print(e.Key)
			b.WriteString(k)
			b.WriteString(" ")
			writeSX(b, e.Val, col+1+len(k)+1)
		}
		b.WriteString("}")
	}
}

func writeSeq(b *strings.Builder, open, close string, xs []sx.Value, col int, pad string) {
	b.WriteString(open)
	for i, x := range xs {
		if i > 0 {
			b.WriteString(pad)
		}
		writeSX(b, x, col+1)
	}
	b.WriteString(close)
}

func isCollection(v sx.Value) bool {
	switch x := v.(type) {
	case sx.List:
		return len(x) > 0
	case sx.Vector:
		return len(x) > 0
	case *sx.Dict:
		return x.Len() > 0
	}
	return false
}

// hexDump is b as rows of 16 hex bytes.
func hexDump(b []byte) string {
	const digits = "0123456789abcdef"
	var s strings.Builder
	for i, c := range b {
		switch {
		case i == 0:
		case i%16 == 0:
			s.WriteByte('\n')
		default:
			s.WriteByte(' ')
		}
		s.WriteByte(digits[c>>4])
		s.WriteByte(digits[c&15])
	}
	return s.String()
}
