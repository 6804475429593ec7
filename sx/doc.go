// Package sx reads and prints SX data notation, the Lisp-like notation in
// which persist writes effect traces, command-line input and output, and
// values on the wire.
//
// # Values
//
// An SX value ([Value]) is one of exactly these Go values:
//
//	nil          nil
//	bool         true false
//	int64        42 -7
//	float64      1.0 -0.5 1.5e+20 ##NaN ##Inf ##-Inf
//	string       "line\n\"quoted\"\t\u{1b}\x{ff}"
//	Keyword      :first-seq
//	Symbol       persist/append
//	List         (a b c)
//	Vector       [a b c]
//	*Dict        {:stream "orders" :seq 3}
//
// [Print] writes the canonical text of a value and [Read] reads one back;
// for every value v, Read(Print(v)) is [Equal] to v and prints identically.
// [FromGo] and [ToGo] convert between SX values and ordinary Go values
// (structs, slices, maps, numbers, TextMarshalers) by reflection.
//
// # JSON
//
// Data is written in SX or in JSON, and one rule maps between them, so
// that every reader sees the same data whichever way it was written:
// [FromJSON] reads JSON as SX (objects as dicts with string keys, arrays as
// vectors, integral numbers as int64, other numbers as float64, null as
// nil) and [ToJSON] writes SX as JSON (dicts with string or keyword keys as
// objects, a keyword key by its name, so {:order 17} and {"order" 17} both
// give {"order":17}; lists and vectors as arrays; keywords and symbols as
// strings of their names). A value with no JSON form (NaN, a dict with a
// number key, a string that is not UTF-8) is an error, never a guess.
//
// Event data and kv values are bytes to the store, and the Go side reads
// them by the same rule: data is JSON text, or SX text standing for the
// JSON that [ToJSON] makes of it. [DataJSON] gives any such data as JSON
// text, and [Unmarshal] decodes it into a Go value by encoding/json's rules
// (field names and json tags), which is what persist's Go helpers use: so
// {:order 17} and {"order": 17} decode to the same struct. JSON is tried
// first, so text that reads both ways (17, [1, 2]) keeps its JSON meaning,
// which is its SX meaning too. The rule lives here, beside the reader,
// because SX is the notation it translates and this package imports only
// the standard library, so every layer may use it.
//
// # Grammar
//
// Text is UTF-8. Values are separated by white space (any Unicode space),
// commas, and comments that run from ; to the end of the line.
//
//	value    = atom | list | vector | dict
//	list     = "(" { value } ")"
//	vector   = "[" { value } "]"
//	dict     = "{" { value value } "}"          keys unique under Equal
//	atom     = number | string | keyword | literal | symbol
//	number   = integer | float
//	integer  = [ "+" | "-" ] digits               fits in int64
//	float    = [ "+" | "-" ] digits [ "." digits ] [ ( "e" | "E" ) [ "+" | "-" ] digits ]
//	                                              with a "." or an exponent or both
//	digits   = digit { digit }                    digit is 0-9
//	string   = '"' { char | escape } '"'         char is any character but " and \
//	escape   = '\"' | '\\' | '\n' | '\t' | '\r'
//	         | '\u{' hex{1,6} '}'                 a Unicode scalar value
//	         | '\x{' hex{1,2} '}'                 one byte
//	keyword  = ":" name
//	literal  = "nil" | "true" | "false" | "##NaN" | "##Inf" | "##-Inf"
//	symbol   = name                               other than a literal, not starting with ##
//	name     = namechar { namechar }              not starting with a digit, nor with
//	                                              + or - followed by a digit
//	namechar = letter | digit | one of - _ . / ? ! * + < > = & % $ #
//
// A letter is any Unicode letter. A number, keyword or symbol ends at white
// space, a comma, a bracket, a quote or a semicolon; anything else in it that
// does not fit the grammar is an error: 1a, 1., 0x1f and 1_000 do not read,
// while .5 and +.5 read as symbols. Lists, vectors and dicts nest at
// most [MaxDepth] deep. Errors are [*SyntaxError]s giving the byte offset,
// line and column (in characters) of the problem.
//
// # Canonical printing
//
// Printing is canonical: Equal values print the same text and different
// values different text.
//
//   - Containers separate elements by one space: (a b), {:a 1 :b 2}.
//   - A dict's entries are sorted by the printed form of their keys, byte by
//     byte, whatever order they were added in.
//   - Integers print in decimal. A float prints in plain decimal with at
//     least one fractional digit (1.0, -0.0, 0.001) when its magnitude is in
//     [1e-6, 1e20), and in exponent form otherwise (1e+20, 1.5e-07), with the
//     fewest digits that read back to the same float64.
//   - A string prints between double quotes with \" \\ \n \t \r for those
//     characters, \u{hex} (lowercase, no leading zeros) for other control
//     characters (Unicode category Cc), \x{hh} for each byte that is not
//     part of valid UTF-8, and every other character as it is. The printed
//     text is therefore valid UTF-8, and any Go string, including arbitrary
//     bytes, reads back unchanged.
//
// The reader is more lenient than the printer: it accepts leading zeros and
// a + sign on numbers, the exponent marker E, \u and \x escapes with leading
// zeros or for printable characters, and raw control characters and new
// lines inside strings; Print writes each of these in its one canonical way.
//
// # Decisions
//
//   - Equal compares floats by bits, so 0.0 and -0.0 differ, but every NaN
//     equals every NaN (they all print ##NaN). int64 1 and float64 1.0
//     differ; so do a List and a Vector with the same elements. A nil List,
//     Vector or *Dict equals an empty one.
//   - Values that are not SX values are programming errors: Print, Equal and
//     Dict methods panic on them (and on Keywords or Symbols with invalid
//     names, or nesting beyond MaxDepth), with a message naming the Go type.
//     Convert Go values with FromGo, which returns errors instead.
//   - FromGo turns nil slices and maps into empty Vectors and Dicts and ToGo
//     turns empty Vectors and Lists (and "") into nil slices, so a Go value
//     whose slices are nil or non-empty survives a round trip exactly. ToGo
//     always makes new maps, even for an empty Dict.
//   - Bytes that are not valid UTF-8 convert to (bytes "<base64>") rather
//     than to a string of \x escapes, since base64 is shorter and other
//     tools can decode it.
//   - A struct's dict leaves out no field unless it is tagged omitempty, so
//     traces show every field of an effect descriptor.
package sx
