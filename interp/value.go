package interp

import (
	"bytes"
	"reflect"
	"sync"
	"time"

	"rose-ash.com/persist/ops"
)

// maxDepth bounds how deeply deepCopy and sameValue follow a value. Effect
// descriptors and answers are plain data, far shallower; a deeper (or
// cyclic) value is shared rather than copied, and compared as different.
const maxDepth = 64

var timeType = reflect.TypeFor[time.Time]()

// pageType is memory a reader lends for an answer (ops.Read.Page): where
// the answer goes, not part of the question. It is shared, never copied,
// and any two compare equal, so a journal holds no copy of a page and a
// replayed read matches whatever page the program lends this time.
var pageType = reflect.TypeFor[*ops.Page]()

// deepCopy returns a copy of v that shares no slice, map or pointer target
// with it, as far as exported fields reach. Unexported fields are copied as
// they are (shallowly); errors and functions are shared.
func deepCopy[T any](v T) T {
	if t := reflect.TypeOf(v); t == nil || !hasRefs(t) {
		return v // nil, or plain data that assignment copies
	}
	rv := reflect.ValueOf(&v).Elem()
	out := reflect.New(rv.Type()).Elem()
	copyValue(out, rv, 0)
	c, _ := out.Interface().(T) // a nil interface stays nil
	return c
}

// copyValue sets dst (settable) to a deep copy of src.
func copyValue(dst, src reflect.Value, depth int) {
	if depth > maxDepth {
		dst.Set(src)
		return
	}
	switch src.Kind() {
	case reflect.Slice:
		if src.IsNil() {
			dst.Set(src)
			return
		}
		s := reflect.MakeSlice(src.Type(), src.Len(), src.Len())
		if src.Type().Elem().Kind() == reflect.Uint8 {
			reflect.Copy(s, src)
		} else {
			for i := range src.Len() {
				copyValue(s.Index(i), src.Index(i), depth+1)
			}
		}
		dst.Set(s)
	case reflect.Array:
		dst.Set(src)
		if hasRefs(src.Type().Elem()) {
			for i := range src.Len() {
				copyValue(dst.Index(i), src.Index(i), depth+1)
			}
		}
	case reflect.Map:
		if src.IsNil() {
			dst.Set(src)
			return
		}
		m := reflect.MakeMapWithSize(src.Type(), src.Len())
		it := src.MapRange()
		for it.Next() {
			// Keys are kept as they are: a copied pointer key would be a
			// different key.
			val := reflect.New(src.Type().Elem()).Elem()
			copyValue(val, it.Value(), depth+1)
			m.SetMapIndex(it.Key(), val)
		}
		dst.Set(m)
	case reflect.Pointer:
		if src.IsNil() || src.Type() == pageType {
			dst.Set(src)
			return
		}
		p := reflect.New(src.Type().Elem())
		copyValue(p.Elem(), src.Elem(), depth+1)
		dst.Set(p)
	case reflect.Interface:
		if src.IsNil() || isError(src.Elem()) {
			dst.Set(src)
			return
		}
		inner := reflect.New(src.Elem().Type()).Elem()
		copyValue(inner, src.Elem(), depth+1)
		dst.Set(inner)
	case reflect.Struct:
		dst.Set(src)
		if src.Type() == timeType {
			return
		}
		t := src.Type()
		for i := range src.NumField() {
			f := t.Field(i)
			if f.IsExported() && hasRefs(f.Type) {
				copyValue(dst.Field(i), src.Field(i), depth+1)
			}
		}
	default:
		dst.Set(src)
	}
}

var errorType = reflect.TypeFor[error]()

// isError reports whether v (the dynamic value of an interface) is an error:
// errors are values with identity and are never copied.
func isError(v reflect.Value) bool { return v.Type().Implements(errorType) }

// refsCache holds hasRefs's answer per type (reflect.Type → bool).
var refsCache sync.Map

// hasRefs reports whether values of t may hold slices, maps, pointers or
// interfaces, so that copying them by assignment would share memory.
func hasRefs(t reflect.Type) bool {
	if r, ok := refsCache.Load(t); ok {
		return r.(bool)
	}
	r := findRefs(t, 0)
	refsCache.Store(t, r)
	return r
}

func findRefs(t reflect.Type, depth int) bool {
	if depth > maxDepth {
		return true
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Map, reflect.Pointer, reflect.Interface:
		return true
	case reflect.Array:
		return findRefs(t.Elem(), depth+1)
	case reflect.Struct:
		if t == timeType {
			return false
		}
		for i := range t.NumField() {
			if findRefs(t.Field(i).Type, depth+1) {
				return true
			}
		}
	}
	return false
}

// sameValue reports whether a and b are deeply equal, as reflect.DeepEqual
// does, except that a nil slice or map equals an empty one, and times
// compare with time.Time.Equal. A journal read back from a file cannot tell
// nil from empty, nor keep a time's monotonic reading.
func sameValue(a, b any) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	if va.Type() != vb.Type() {
		return false
	}
	return sameRV(va, vb, 0)
}

func sameRV(a, b reflect.Value, depth int) bool {
	if depth > maxDepth {
		return false
	}
	switch a.Kind() {
	case reflect.Slice:
		if a.Len() != b.Len() {
			return false
		}
		if a.Type().Elem().Kind() == reflect.Uint8 {
			return bytes.Equal(a.Bytes(), b.Bytes())
		}
		for i := range a.Len() {
			if !sameRV(a.Index(i), b.Index(i), depth+1) {
				return false
			}
		}
		return true
	case reflect.Array:
		for i := range a.Len() {
			if !sameRV(a.Index(i), b.Index(i), depth+1) {
				return false
			}
		}
		return true
	case reflect.Map:
		if a.Len() != b.Len() {
			return false
		}
		it := a.MapRange()
		for it.Next() {
			bv := b.MapIndex(it.Key())
			if !bv.IsValid() || !sameRV(it.Value(), bv, depth+1) {
				return false
			}
		}
		return true
	case reflect.Pointer:
		if a.Type() == pageType {
			return true
		}
		if a.IsNil() || b.IsNil() {
			return a.IsNil() && b.IsNil()
		}
		if a.Pointer() == b.Pointer() {
			return true
		}
		return sameRV(a.Elem(), b.Elem(), depth+1)
	case reflect.Interface:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() && b.IsNil()
		}
		if a.Elem().Type() != b.Elem().Type() {
			return false
		}
		return sameRV(a.Elem(), b.Elem(), depth+1)
	case reflect.Struct:
		if a.Type() == timeType && a.CanInterface() && b.CanInterface() {
			return a.Interface().(time.Time).Equal(b.Interface().(time.Time))
		}
		for i := range a.NumField() {
			if !sameRV(a.Field(i), b.Field(i), depth+1) {
				return false
			}
		}
		return true
	case reflect.Func:
		return a.IsNil() && b.IsNil()
	case reflect.Bool:
		return a.Bool() == b.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return a.Int() == b.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return a.Uint() == b.Uint()
	case reflect.Float32, reflect.Float64:
		return a.Float() == b.Float()
	case reflect.Complex64, reflect.Complex128:
		return a.Complex() == b.Complex()
	case reflect.String:
		return a.String() == b.String()
	case reflect.Chan, reflect.UnsafePointer:
		return a.Pointer() == b.Pointer()
	}
	return false
}
