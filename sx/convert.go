package sx

import (
	"encoding"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// ConvertError reports a Go value that [FromGo] cannot convert, or an SX
// value that [ToGo] cannot store, naming where in the value the problem is.
type ConvertError struct {
	// Path leads to the problem from the top value: struct fields by their
	// key name after a dot, elements by index and map or dict entries by
	// their printed key in brackets, as in `events[2].type` or
	// `labels["a"]`. It is empty when the problem is the top value.
	Path string
	// Err says what is wrong.
	Err error
}

func (e *ConvertError) Error() string {
	if e.Path == "" {
		return "sx: " + e.Err.Error()
	}
	return "sx: " + e.Path + ": " + e.Err.Error()
}

func (e *ConvertError) Unwrap() error { return e.Err }

func convErr(format string, args ...any) *ConvertError {
	return &ConvertError{Err: fmt.Errorf(format, args...)}
}

// in records that the problem is inside seg (".key", "[2]"); paths are built
// while returning, so conversions that succeed build none.
func (e *ConvertError) in(seg string) *ConvertError {
	e.Path = seg + e.Path
	return e
}

func (e *ConvertError) done() error {
	e.Path = strings.TrimPrefix(e.Path, ".")
	return e
}

var (
	keywordType         = reflect.TypeFor[Keyword]()
	symbolType          = reflect.TypeFor[Symbol]()
	listType            = reflect.TypeFor[List]()
	vectorType          = reflect.TypeFor[Vector]()
	dictPtrType         = reflect.TypeFor[*Dict]()
	dictType            = reflect.TypeFor[Dict]()
	errorType           = reflect.TypeFor[error]()
	textMarshalerType   = reflect.TypeFor[encoding.TextMarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// bytesSym heads the form (bytes "<base64>") that holds bytes which are not
// valid UTF-8.
const bytesSym = Symbol("bytes")

// FromGo converts a Go value to an SX value:
//
//   - nil, bool, int64, float64 and string stay as they are; a Keyword or
//     Symbol must have a valid name; a List, Vector or *Dict is converted
//     element by element (so List{1, "a"} becomes List{int64(1), "a"}).
//   - A type with a MarshalText method (encoding.TextMarshaler, such as
//     time.Time or a UUID) becomes the string it marshals to; failing that,
//     an error becomes its message.
//   - Pointers and interfaces are followed; nil becomes nil.
//   - Every integer type becomes int64; a uint above math.MaxInt64 is an
//     error. float32 and float64 become float64. Other string types become
//     strings, other bool types bools.
//   - A []byte becomes a string when it is valid UTF-8 and (bytes "<base64>")
//     otherwise (standard base64 with padding). A nil []byte becomes "".
//   - Other slices and arrays become Vectors, maps Dicts (a nil slice or map
//     an empty one).
//   - A struct becomes a Dict keyed by keywords made from its field names in
//     kebab case (FirstSeq → :first-seq, ID → :id, HTTPServer → :http-server).
//     A tag sx:"name" renames a field, sx:"-" skips it, sx:",omitempty"
//     leaves it out when it is zero (or an empty slice, map or string) and
//     sx:",omitzero" when it is its type's zero value (an array of zeros,
//     such as a nil UUID, included), as in encoding/json.
//     Unexported fields and embedded fields of size zero (effect.Returns[R])
//     are skipped; other untagged embedded structs have their fields lifted
//     into the outer dict, a shallower field hiding a deeper one of the same
//     key; two fields with one key at the same depth are an error.
//
// Anything else (funcs, channels, complex numbers) is an error, as is a value
// nested deeper than [MaxDepth]. Errors are [*ConvertError]s naming the path.
func FromGo(v any) (Value, error) {
	out, err := fromGo(reflect.ValueOf(v), 0)
	if err != nil {
		return nil, err.done()
	}
	return out, nil
}

// FromGoForm converts v with FromGo and makes the form (name fields): the
// list of the symbol name and v's value, or (name) alone when v converts to
// an empty dict. It is how an operation descriptor is written: v is the
// descriptor, name its operation's name.
func FromGoForm(name string, v any) (Value, error) {
	fields, err := FromGo(v)
	if err != nil {
		return nil, err
	}
	if d, ok := fields.(*Dict); ok && d.Len() == 0 {
		return List{Symbol(name)}, nil
	}
	return List{Symbol(name), fields}, nil
}

// fromGo converts rv, which sits inside depth containers.
func fromGo(rv reflect.Value, depth int) (Value, *ConvertError) {
	// Follow pointers and interfaces, stopping at marshalers and *Dict.
	for hops := 0; ; hops++ {
		if !rv.IsValid() {
			return nil, nil
		}
		if hops > MaxDepth {
			return nil, convErr("pointers nest deeper than %d (is the value cyclic?)", MaxDepth)
		}
		k := rv.Kind()
		if k != reflect.Interface && k != reflect.Pointer {
			break
		}
		if rv.IsNil() {
			return nil, nil
		}
		if k == reflect.Pointer {
			if rv.Type() == dictPtrType {
				return fromDict(rv.Interface().(*Dict), depth)
			}
			if v, ok, err := marshal(rv); ok {
				return v, err
			}
		}
		rv = rv.Elem()
	}

	t := rv.Type()
	switch t {
	case keywordType:
		k := Keyword(rv.String())
		if !k.Valid() {
			return nil, &ConvertError{Err: badName("keyword", string(k))}
		}
		return k, nil
	case symbolType:
		s := Symbol(rv.String())
		if !s.Valid() {
			return nil, &ConvertError{Err: badName("symbol", string(s))}
		}
		return s, nil
	case listType:
		vs, err := fromSeq(rv, depth)
		return List(vs), err
	case vectorType:
		vs, err := fromSeq(rv, depth)
		return Vector(vs), err
	case dictType:
		d := new(Dict)
		reflect.ValueOf(d).Elem().Set(rv)
		return fromDict(d, depth)
	}
	if v, ok, err := marshal(rv); ok {
		return v, err
	}

	switch rv.Kind() {
	case reflect.Bool:
		return rv.Bool(), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int(), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		u := rv.Uint()
		if u > math.MaxInt64 {
			return nil, convErr("%s %d overflows int64", t, u)
		}
		return int64(u), nil
	case reflect.Float32, reflect.Float64:
		return rv.Float(), nil
	case reflect.String:
		return rv.String(), nil
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return fromBytes(rv.Bytes()), nil
		}
		vs, err := fromSeq(rv, depth)
		return Vector(vs), err
	case reflect.Array:
		vs, err := fromSeq(rv, depth)
		return Vector(vs), err
	case reflect.Map:
		return fromMap(rv, depth)
	case reflect.Struct:
		return fromStruct(rv, depth)
	}
	return nil, convErr("cannot convert a %s to SX", t)
}

// marshal converts rv with its MarshalText or, failing that, its Error
// method, if it has one, looking for pointer methods too when rv is not a
// pointer.
func marshal(rv reflect.Value) (Value, bool, *ConvertError) {
	m := methodsOf(rv.Type())
	switch {
	case m&hasMarshal != 0:
	case m&hasPtrMarshal != 0:
		rv = addr(rv)
	case m&hasError != 0:
		return rv.Interface().(error).Error(), true, nil
	case m&hasPtrError != 0:
		return addr(rv).Interface().(error).Error(), true, nil
	default:
		return nil, false, nil
	}
	b, err := rv.Interface().(encoding.TextMarshaler).MarshalText()
	if err != nil {
		return nil, true, &ConvertError{Err: fmt.Errorf("marshal %s: %w", rv.Type(), err)}
	}
	return string(b), true, nil
}

// addr returns a pointer to rv, or to a copy of it when it is not
// addressable.
func addr(rv reflect.Value) reflect.Value {
	if rv.CanAddr() {
		return rv.Addr()
	}
	p := reflect.New(rv.Type())
	p.Elem().Set(rv)
	return p
}

const (
	hasMarshal = 1 << iota
	hasPtrMarshal
	hasError
	hasPtrError
	hasPtrUnmarshal
)

var methodCache sync.Map // reflect.Type → int

// methodsOf says which of MarshalText and Error t and *t have, and whether
// *t has UnmarshalText.
func methodsOf(t reflect.Type) int {
	if m, ok := methodCache.Load(t); ok {
		return m.(int)
	}
	m := 0
	if t.Implements(textMarshalerType) {
		m |= hasMarshal
	} else if t.Kind() != reflect.Pointer && reflect.PointerTo(t).Implements(textMarshalerType) {
		m |= hasPtrMarshal
	}
	if t.Implements(errorType) {
		m |= hasError
	} else if t.Kind() != reflect.Pointer && reflect.PointerTo(t).Implements(errorType) {
		m |= hasPtrError
	}
	if reflect.PointerTo(t).Implements(textUnmarshalerType) {
		m |= hasPtrUnmarshal
	}
	methodCache.Store(t, m)
	return m
}

func fromBytes(b []byte) Value {
	if utf8.Valid(b) {
		return string(b)
	}
	return List{bytesSym, base64.StdEncoding.EncodeToString(b)}
}

func fromSeq(rv reflect.Value, depth int) ([]Value, *ConvertError) {
	if depth+1 > MaxDepth {
		return nil, tooDeep()
	}
	out := make([]Value, rv.Len())
	for i := range out {
		v, err := fromGo(rv.Index(i), depth+1)
		if err != nil {
			return nil, err.in(fmt.Sprintf("[%d]", i))
		}
		out[i] = v
	}
	return out, nil
}

func tooDeep() *ConvertError {
	return convErr("value nests deeper than %d (is it cyclic?)", MaxDepth)
}

func fromDict(d *Dict, depth int) (Value, *ConvertError) {
	if depth+1 > MaxDepth {
		return nil, tooDeep()
	}
	out := &Dict{ents: make([]dictEntry, d.Len())}
	for i := range out.ents {
		e := d.ents[i]
		v, err := fromGo(reflect.ValueOf(e.Val), depth+1)
		if err != nil {
			return nil, err.in("[" + brief(e.p) + "]")
		}
		e.Val = v
		out.ents[i] = e
	}
	return out, nil
}

func fromMap(rv reflect.Value, depth int) (Value, *ConvertError) {
	if depth+1 > MaxDepth {
		return nil, tooDeep()
	}
	d := &Dict{ents: make([]dictEntry, 0, rv.Len())}
	iter := rv.MapRange()
	for iter.Next() {
		k, err := fromGo(iter.Key(), depth+1)
		if err != nil {
			return nil, err.in(fmt.Sprintf("[%v]", iter.Key()))
		}
		p, kdepth := printKey(k)
		v, err := fromGo(iter.Value(), depth+1)
		if err != nil {
			return nil, err.in("[" + brief(p) + "]")
		}
		d.ents = append(d.ents, dictEntry{Entry: Entry{Key: k, Val: v}, p: p, depth: kdepth})
	}
	if d.sort() {
		for i := 1; i < len(d.ents); i++ {
			if d.ents[i].p == d.ents[i-1].p {
				return nil, convErr("two map keys convert to %s", brief(d.ents[i].p))
			}
		}
	}
	return d, nil
}

func fromStruct(rv reflect.Value, depth int) (Value, *ConvertError) {
	info := structInfoOf(rv.Type())
	if info.err != nil {
		return nil, &ConvertError{Err: info.err}
	}
	if depth+1 > MaxDepth {
		return nil, tooDeep()
	}
	d := &Dict{ents: make([]dictEntry, 0, len(info.fields))}
	for i := range info.fields {
		f := &info.fields[i]
		fv, err := rv.FieldByIndexErr(f.index)
		if err != nil {
			continue // inside a nil embedded pointer
		}
		if f.omitEmpty && isEmpty(fv) || f.omitZero && fv.IsZero() {
			continue
		}
		v, cerr := fromGo(fv, depth+1)
		if cerr != nil {
			return nil, cerr.in("." + f.key)
		}
		d.ents = append(d.ents, dictEntry{Entry: Entry{Key: Keyword(f.key), Val: v}, p: f.p})
	}
	return d, nil
}

func isEmpty(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Slice, reflect.Map, reflect.String, reflect.Array:
		return v.Len() == 0
	}
	return v.IsZero()
}

type fieldInfo struct {
	key       string // keyword name
	p         string // ":" + key, the printed key
	index     []int  // for reflect.Value.FieldByIndex
	depth     int    // embedding depth
	goName    string
	omitEmpty bool
	omitZero  bool
}

type structInfo struct {
	fields []fieldInfo // sorted by key, which is canonical dict order
	byKey  map[string]*fieldInfo
	err    error
}

var structCache sync.Map // reflect.Type → *structInfo

func structInfoOf(t reflect.Type) *structInfo {
	if info, ok := structCache.Load(t); ok {
		return info.(*structInfo)
	}
	info := &structInfo{}
	var cands []fieldInfo
	info.err = collectFields(t, nil, 0, map[reflect.Type]bool{t: true}, &cands)
	if info.err == nil {
		info.fields, info.err = resolveFields(cands)
	}
	if info.err != nil {
		info.err = fmt.Errorf("type %s: %w", t, info.err)
		info.fields = nil
	}
	info.byKey = make(map[string]*fieldInfo, len(info.fields))
	for i := range info.fields {
		info.byKey[info.fields[i].key] = &info.fields[i]
	}
	actual, _ := structCache.LoadOrStore(t, info)
	return actual.(*structInfo)
}

func collectFields(t reflect.Type, prefix []int, depth int, open map[reflect.Type]bool, out *[]fieldInfo) error {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("sx")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		optList := strings.Split(opts, ",")
		omit := slices.Contains(optList, "omitempty")
		omitZero := slices.Contains(optList, "omitzero")
		index := append(slices.Clip(prefix), i)
		if f.Anonymous {
			if f.Type.Size() == 0 {
				continue
			}
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				if !f.IsExported() {
					continue // cannot be allocated when reading
				}
				ft = ft.Elem()
			}
			if name == "" && ft.Kind() == reflect.Struct && methodsOf(ft)&(hasMarshal|hasPtrMarshal) == 0 {
				if open[ft] {
					continue
				}
				open[ft] = true
				err := collectFields(ft, index, depth+1, open, out)
				delete(open, ft)
				if err != nil {
					return err
				}
				continue
			}
			if !f.IsExported() {
				continue
			}
		} else if !f.IsExported() {
			continue
		}
		if name == "" {
			name = kebab(f.Name)
		}
		if p := nameProblem(name); p != "" {
			return fmt.Errorf("field %s: key %q is not a keyword name: %s", f.Name, name, p)
		}
		*out = append(*out, fieldInfo{key: name, p: ":" + name, index: index, depth: depth, goName: f.Name, omitEmpty: omit, omitZero: omitZero})
	}
	return nil
}

// resolveFields keeps, of the fields sharing a key, the one embedded least
// deeply, and sorts them by key.
func resolveFields(cands []fieldInfo) ([]fieldInfo, error) {
	slices.SortStableFunc(cands, func(a, b fieldInfo) int {
		if c := strings.Compare(a.key, b.key); c != 0 {
			return c
		}
		return a.depth - b.depth
	})
	var out []fieldInfo
	for i := 0; i < len(cands); {
		j := i + 1
		for j < len(cands) && cands[j].key == cands[i].key {
			j++
		}
		if j > i+1 && cands[i+1].depth == cands[i].depth {
			return nil, fmt.Errorf("fields %s and %s both have key :%s", cands[i].goName, cands[i+1].goName, cands[i].key)
		}
		out = append(out, cands[i])
		i = j
	}
	return out, nil
}

// kebab turns a Go field name into a keyword name: FirstSeq → first-seq,
// ID → id, HTTPServer → http-server, Base64Data → base64-data,
// Stream_Name → stream-name.
func kebab(name string) string {
	rs := []rune(name)
	var b strings.Builder
	dash := false // a dash is due before the next character
	for i, r := range rs {
		if r == '_' || r == '-' {
			dash = b.Len() > 0
			continue
		}
		if unicode.IsUpper(r) && i > 0 {
			prev := rs[i-1]
			if unicode.IsLower(prev) || unicode.IsDigit(prev) ||
				unicode.IsUpper(prev) && i+1 < len(rs) && unicode.IsLower(rs[i+1]) {
				dash = b.Len() > 0
			}
		}
		if dash {
			b.WriteByte('-')
			dash = false
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// ToGo stores the SX value v in the Go value ptr points to, the reverse of
// [FromGo] for the same shapes:
//
//   - A Value (any) takes v as it is, and a Keyword, Symbol, List, Vector or
//     *Dict takes a value of its own type.
//   - nil stores the zero value in a pointer, slice, map or interface; other
//     types do not take nil.
//   - A pointer is given a new value to point to, which takes v.
//   - A type whose pointer has UnmarshalText (encoding.TextUnmarshaler)
//     takes a string; an error takes a string, as errors.New(s).
//   - Integer types take an int64 that fits; float types an int64 or a
//     float64; string types a string; bool types a bool.
//   - A []byte takes a string or (bytes "<base64>"); other slices a Vector or
//     List; an array a Vector or List of its length. An empty one stores a
//     nil slice.
//   - A map takes a Dict, its keys and values converted as above.
//   - A struct takes a Dict whose keys are keywords naming its fields as
//     FromGo names them. An unknown key is an error; fields whose key is
//     absent are zero.
//
// ToGo overwrites what ptr points to; on error it may have stored part of
// v. Errors are [*ConvertError]s naming the path to the problem, as in
// "events[2].type: want string, got int64".
func ToGo(v Value, ptr any) error {
	rv := reflect.ValueOf(ptr)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return &ConvertError{Err: fmt.Errorf("ToGo needs a non-nil pointer, got %T", ptr)}
	}
	if err := toGo(v, rv.Elem(), 0); err != nil {
		return err.done()
	}
	return nil
}

func mismatch(want string, v Value) *ConvertError {
	return convErr("want %s, got %s", want, kindName(v))
}

// toGo stores v in rv, which is settable and sits inside depth containers.
func toGo(v Value, rv reflect.Value, depth int) *ConvertError {
	t := rv.Type()
	switch t {
	case keywordType, symbolType, listType, vectorType, dictPtrType:
		if v == nil && (t == dictPtrType || t == listType || t == vectorType) {
			rv.SetZero()
			return nil
		}
		if reflect.TypeOf(v) != t {
			return mismatch(kindName(reflect.Zero(t).Interface()), v)
		}
		rv.Set(reflect.ValueOf(v))
		return nil
	}
	if v == nil {
		switch rv.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface:
			rv.SetZero()
			return nil
		}
	}
	switch rv.Kind() {
	case reflect.Pointer:
		p := reflect.New(t.Elem())
		if err := toGo(v, p.Elem(), depth); err != nil {
			return err
		}
		rv.Set(p)
		return nil
	case reflect.Interface:
		if t == errorType {
			s, ok := v.(string)
			if !ok {
				return mismatch("string", v)
			}
			rv.Set(reflect.ValueOf(errors.New(s)))
			return nil
		}
		if t.NumMethod() != 0 {
			return convErr("cannot store a %s in interface type %s", kindName(v), t)
		}
		if strings.HasPrefix(kindName(v), "non-SX") {
			return convErr("cannot store a %s", kindName(v))
		}
		rv.Set(reflect.ValueOf(v))
		return nil
	}
	if methodsOf(t)&hasPtrUnmarshal != 0 {
		s, ok := v.(string)
		if !ok {
			return mismatch("string", v)
		}
		if err := rv.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)); err != nil {
			return &ConvertError{Err: fmt.Errorf("unmarshal %s: %w", t, err)}
		}
		return nil
	}

	switch rv.Kind() {
	case reflect.Bool:
		b, ok := v.(bool)
		if !ok {
			return mismatch("bool", v)
		}
		rv.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := v.(int64)
		if !ok {
			return mismatch("int64", v)
		}
		if rv.OverflowInt(n) {
			return convErr("%d out of range for %s", n, t)
		}
		rv.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		n, ok := v.(int64)
		if !ok {
			return mismatch("int64", v)
		}
		if n < 0 || rv.OverflowUint(uint64(n)) {
			return convErr("%d out of range for %s", n, t)
		}
		rv.SetUint(uint64(n))
	case reflect.Float32, reflect.Float64:
		var f float64
		switch x := v.(type) {
		case float64:
			f = x
		case int64:
			f = float64(x)
		default:
			return mismatch("float64", v)
		}
		if rv.OverflowFloat(f) {
			return convErr("%v out of range for %s", f, t)
		}
		rv.SetFloat(f)
	case reflect.String:
		s, ok := v.(string)
		if !ok {
			return mismatch("string", v)
		}
		rv.SetString(s)
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return toBytes(v, rv)
		}
		return toSeq(v, rv, depth, -1)
	case reflect.Array:
		return toSeq(v, rv, depth, rv.Len())
	case reflect.Map:
		return toMap(v, rv, depth)
	case reflect.Struct:
		return toStruct(v, rv, depth)
	default:
		return convErr("cannot store SX in a %s", t)
	}
	return nil
}

func toBytes(v Value, rv reflect.Value) *ConvertError {
	var b []byte
	switch x := v.(type) {
	case string:
		if x != "" {
			b = []byte(x)
		}
	case List:
		if len(x) != 2 || x[0] != Value(bytesSym) {
			return mismatch(`string or (bytes "<base64>")`, v)
		}
		s, ok := x[1].(string)
		if !ok {
			return convErr(`want (bytes "<base64>"), got a %s in it`, kindName(x[1]))
		}
		var err error
		b, err = base64.StdEncoding.DecodeString(s)
		if err != nil {
			return convErr("bytes: bad base64: %w", err)
		}
		if len(b) == 0 {
			b = nil
		}
	default:
		return mismatch(`string or (bytes "<base64>")`, v)
	}
	rv.SetBytes(b)
	return nil
}

// toSeq stores a List or Vector in a slice, or in an array of length n.
func toSeq(v Value, rv reflect.Value, depth, n int) *ConvertError {
	var items []Value
	switch x := v.(type) {
	case Vector:
		items = x
	case List:
		items = x
	default:
		return mismatch("vector or list", v)
	}
	if depth+1 > MaxDepth {
		return tooDeep()
	}
	if n >= 0 {
		if len(items) != n {
			return convErr("want %d elements, got %d", n, len(items))
		}
	} else if len(items) == 0 {
		rv.SetZero()
		return nil
	} else {
		rv.Set(reflect.MakeSlice(rv.Type(), len(items), len(items)))
	}
	for i, item := range items {
		if err := toGo(item, rv.Index(i), depth+1); err != nil {
			return err.in(fmt.Sprintf("[%d]", i))
		}
	}
	return nil
}

func toMap(v Value, rv reflect.Value, depth int) *ConvertError {
	d, ok := v.(*Dict)
	if !ok {
		return mismatch("dict", v)
	}
	if depth+1 > MaxDepth {
		return tooDeep()
	}
	t := rv.Type()
	m := reflect.MakeMapWithSize(t, d.Len())
	for i := range d.Len() {
		e := &d.ents[i]
		seg := "[" + brief(e.p) + "]"
		k := reflect.New(t.Key()).Elem()
		if err := toGo(e.Key, k, depth+1); err != nil {
			return err.in(seg)
		}
		val := reflect.New(t.Elem()).Elem()
		if err := toGo(e.Val, val, depth+1); err != nil {
			return err.in(seg)
		}
		m.SetMapIndex(k, val)
	}
	rv.Set(m)
	return nil
}

func toStruct(v Value, rv reflect.Value, depth int) *ConvertError {
	d, ok := v.(*Dict)
	if !ok {
		return mismatch("dict", v)
	}
	info := structInfoOf(rv.Type())
	if info.err != nil {
		return &ConvertError{Err: info.err}
	}
	if depth+1 > MaxDepth {
		return tooDeep()
	}
	rv.SetZero()
	for i := range d.Len() {
		e := &d.ents[i]
		k, ok := e.Key.(Keyword)
		if !ok {
			return convErr("want keyword keys, got %s %s", kindName(e.Key), brief(e.p))
		}
		f := info.byKey[string(k)]
		if f == nil {
			return convErr("unknown key %s", e.p)
		}
		fv := fieldForSet(rv, f.index)
		if err := toGo(e.Val, fv, depth+1); err != nil {
			return err.in("." + f.key)
		}
	}
	return nil
}

// fieldForSet returns the field of rv at index, allocating embedded
// pointers on the way.
func fieldForSet(rv reflect.Value, index []int) reflect.Value {
	for i, x := range index {
		if i > 0 && rv.Kind() == reflect.Pointer {
			if rv.IsNil() {
				rv.Set(reflect.New(rv.Type().Elem()))
			}
			rv = rv.Elem()
		}
		rv = rv.Field(x)
	}
	return rv
}
