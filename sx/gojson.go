package sx

// FromJSONGo reads JSON that [ToJSON] wrote of a value [FromGo] made, back
// into that value's shape, so that [ToGo] stores it in the Go type it came
// from: it reads as [FromJSON] does, then turns every object key that is a
// keyword name into a [Keyword] (FromGo names struct fields by keywords,
// which ToJSON writes as strings) and every two-element array
// ["bytes", "<base64>"] into the list (bytes "<base64>") that holds bytes
// which are not UTF-8. This is how persist's wire protocol reads its JSON
// notation: one conversion (FromGo, ToGo) for both notations.
func FromJSONGo(b []byte) (Value, error) {
	v, err := FromJSON(b)
	if err != nil {
		return nil, err
	}
	return goShape(v), nil
}

func goShape(v Value) Value {
	switch x := v.(type) {
	case *Dict:
		out := &Dict{ents: make([]dictEntry, 0, x.Len())}
		for _, e := range x.ents {
			k := e.Key
			if s, ok := k.(string); ok && validName(s) {
				k = Keyword(s)
			}
			p, depth := printKey(k)
			out.ents = append(out.ents, dictEntry{Entry: Entry{Key: k, Val: goShape(e.Val)}, p: p, depth: depth})
		}
		out.sort()
		return out
	case Vector:
		if len(x) == 2 && x[0] == Value(string(bytesSym)) {
			if s, ok := x[1].(string); ok {
				return List{bytesSym, s}
			}
		}
		out := make(Vector, len(x))
		for i, e := range x {
			out[i] = goShape(e)
		}
		return out
	}
	return v
}
