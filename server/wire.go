package server

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/sx"
)

// Media types of the two notations and of a follow.
const (
	MediaSX     = "application/x-sx"
	MediaJSON   = "application/json"
	MediaEvents = "text/event-stream"
)

// Notation is how a body is written: SX or JSON.
type Notation int

const (
	SX Notation = iota
	JSON
)

// Media is the notation's media type.
func (n Notation) Media() string {
	if n == JSON {
		return MediaJSON
	}
	return MediaSX
}

// NotationOf reads a Content-Type: "" and application/x-sx are SX,
// application/json is JSON; anything else is not a notation (ok false).
func NotationOf(contentType string) (Notation, bool) {
	switch contentType {
	case "", MediaSX:
		return SX, true
	case MediaJSON:
		return JSON, true
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return SX, false
	}
	switch mt {
	case MediaSX:
		return SX, true
	case MediaJSON:
		return JSON, true
	}
	return SX, false
}

// answerNotation is the notation of the answer: the first of the notations
// Accept names, else the request's.
func answerNotation(r *http.Request, req Notation) Notation {
	accept := r.Header.Get("Accept")
	switch accept {
	case "":
		return req
	case MediaSX:
		return SX
	case MediaJSON:
		return JSON
	}
	for _, part := range strings.Split(accept, ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mt {
		case MediaSX:
			return SX
		case MediaJSON:
			return JSON
		}
	}
	return req
}

// decoders maps each operation's name to the function that reads its fields.
var decoders = map[string]func(fields sx.Value) (effect.Effect, error){
	ops.NameAppend:        decodeOp[ops.Append],
	ops.NameRead:          decodeOp[ops.Read],
	ops.NameReadAll:       decodeOp[ops.ReadAll],
	ops.NameHead:          decodeOp[ops.Head],
	ops.NameStreams:       decodeOp[ops.Streams],
	ops.NameWait:          decodeOp[ops.Wait],
	ops.NameKvGet:         decodeOp[ops.KvGet],
	ops.NameKvPut:         decodeOp[ops.KvPut],
	ops.NameKvDelete:      decodeOp[ops.KvDelete],
	ops.NameKvList:        decodeOp[ops.KvList],
	ops.NameSnapshotRead:  decodeOp[ops.SnapshotRead],
	ops.NameSnapshotWrite: decodeOp[ops.SnapshotWrite],
	ops.NameSnapshotNames: decodeOp[ops.SnapshotNames],
	ops.NameNow:           decodeOp[ops.Now],
	ops.NameCommit:        decodeOp[ops.Commit],

	ops.NameStreamMetaRead:      decodeOp[ops.StreamMetaRead],
	ops.NameStreamMetaWrite:     decodeOp[ops.StreamMetaWrite],
	ops.NameStreamDelete:        decodeOp[ops.StreamDelete],
	ops.NameKvHistory:           decodeOp[ops.KvHistory],
	ops.NameKvWatch:             decodeOp[ops.KvWatch],
	ops.NameKvWait:              decodeOp[ops.KvWait],
	ops.NameSnapshotGenerations: decodeOp[ops.SnapshotGenerations],
	ops.NameStat:                decodeOp[ops.Stat],
}

// OpNames lists the names of the operations the server serves.
func OpNames() []string {
	out := make([]string, 0, len(decoders))
	for n := range decoders {
		out = append(out, n)
	}
	return out
}

func decodeOp[T effect.Effect](fields sx.Value) (effect.Effect, error) {
	var op T
	if fields == nil {
		return op, nil
	}
	if _, ok := fields.(*sx.Dict); !ok {
		return nil, &ops.InvalidError{Op: op.EffectName(), Field: "fields", Reason: "want a dict of the operation's fields"}
	}
	if err := sx.ToGo(fields, &op); err != nil {
		var ce *sx.ConvertError
		if errors.As(err, &ce) {
			field := ce.Path
			if field == "" {
				field = "fields"
			}
			return nil, &ops.InvalidError{Op: op.EffectName(), Field: field, Reason: ce.Err.Error()}
		}
		return nil, &ops.InvalidError{Op: op.EffectName(), Field: "fields", Reason: err.Error()}
	}
	if err := checkEventIDs(op.EffectName(), fields.(*sx.Dict)); err != nil {
		return nil, err
	}
	return op, nil
}

// field is the value under :name in SX or "name" in JSON.
func field(d *sx.Dict, name string) (sx.Value, bool) {
	if v, ok := d.Get(sx.Keyword(name)); ok {
		return v, true
	}
	return d.Get(name)
}

// vector is v's items when it is a vector or a list.
func vector(v sx.Value) []sx.Value {
	switch v := v.(type) {
	case sx.Vector:
		return v
	case sx.List:
		return v
	}
	return nil
}

// checkEventIDs reads every event ID written out in the fields of an append
// or a commit with ops.ParseEventID, so that an explicit nil UUID is
// refused, naming the field, rather than taken as "draw one": only an :id
// left out asks the store for a fresh ID.
func checkEventIDs(op string, fields *sx.Dict) error {
	events := func(prefix string, d *sx.Dict) error {
		evs, _ := field(d, "events")
		for i, ev := range vector(evs) {
			ed, ok := ev.(*sx.Dict)
			if !ok {
				continue
			}
			id, ok := field(ed, "id")
			if !ok {
				continue
			}
			s, _ := id.(string)
			if _, err := ops.ParseEventID(s); err != nil {
				var ie *ops.InvalidError
				errors.As(err, &ie)
				return &ops.InvalidError{Op: op, Field: fmt.Sprintf("%sevents[%d].id", prefix, i), Reason: ie.Reason}
			}
		}
		return nil
	}
	switch op {
	case ops.NameAppend:
		return events("", fields)
	case ops.NameCommit:
		aps, _ := field(fields, "appends")
		for j, ap := range vector(aps) {
			if ad, ok := ap.(*sx.Dict); ok {
				if err := events(fmt.Sprintf("appends[%d].", j), ad); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// UnknownOpError is an operation name the server does not serve.
type UnknownOpError struct{ Op string }

func (e *UnknownOpError) Error() string { return fmt.Sprintf("server: unknown operation %q", e.Op) }

// readValue reads a whole body as one value in notation n.
func readValue(body []byte, n Notation) (sx.Value, error) {
	var (
		v   sx.Value
		err error
	)
	if n == JSON {
		v, err = sx.FromJSONGo(body)
	} else {
		v, err = sx.Read(string(body))
	}
	if err != nil {
		return nil, &ops.InvalidError{Field: "body", Reason: err.Error()}
	}
	return v, nil
}

// DecodeOp reads one operation, written in notation n, from body: the list
// (SX) or array (JSON) of its name and its fields.
func DecodeOp(body []byte, n Notation) (effect.Effect, error) {
	if op, ok := fastDecodeOp(body, n); ok {
		return op, nil
	}
	return decodeGeneric(body, n)
}

// decodeGeneric is DecodeOp through the generic SX tree: the reference the
// fast decoder is held to.
func decodeGeneric(body []byte, n Notation) (effect.Effect, error) {
	v, err := readValue(body, n)
	if err != nil {
		return nil, err
	}
	return opFromValue(v, "body")
}

// DecodeBatch reads a vector of operations from body. Each element is
// decoded on its own: an element that does not decode gives its error at
// its index, and the others decode as they are. The vector itself must
// read, and hold at most max elements.
func DecodeBatch(body []byte, n Notation, max int) ([]effect.Effect, []error, error) {
	v, err := readValue(body, n)
	if err != nil {
		return nil, nil, err
	}
	var items []sx.Value
	switch x := v.(type) {
	case sx.Vector:
		items = x
	case sx.List:
		items = x
	default:
		return nil, nil, &ops.InvalidError{Field: "body", Reason: "want a vector of operations"}
	}
	if len(items) > max {
		return nil, nil, &LimitError{Limit: "batch", Max: int64(max)}
	}
	opsOut := make([]effect.Effect, len(items))
	errs := make([]error, len(items))
	for i, item := range items {
		opsOut[i], errs[i] = opFromValue(item, fmt.Sprintf("[%d]", i))
	}
	return opsOut, errs, nil
}

func opFromValue(v sx.Value, where string) (effect.Effect, error) {
	var items []sx.Value
	switch x := v.(type) {
	case sx.List:
		items = x
	case sx.Vector:
		items = x
	}
	if len(items) < 1 || len(items) > 2 {
		return nil, &ops.InvalidError{Field: where, Reason: "want an operation: (name {fields}) or [\"name\", {fields}]"}
	}
	var name string
	switch h := items[0].(type) {
	case sx.Symbol:
		name = string(h)
	case string:
		name = h
	default:
		return nil, &ops.InvalidError{Field: where, Reason: "an operation starts with its name"}
	}
	dec := decoders[name]
	if dec == nil {
		return nil, &UnknownOpError{Op: name}
	}
	var fields sx.Value
	if len(items) == 2 {
		fields = items[1]
	}
	return dec(fields)
}

// EncodeOp writes an operation in notation n, as a client sends it: the
// list of its name and its fields as sx.FromGo converts them.
func EncodeOp(op effect.Effect, n Notation) ([]byte, error) {
	v, err := OpValue(op)
	if err != nil {
		return nil, err
	}
	return EncodeValue(v, n)
}

// OpValue is an operation as an SX value: (name {fields}), or (name) when
// it has no fields; the text interp.FormatEffect prints.
func OpValue(op effect.Effect) (sx.Value, error) {
	return sx.FromGoForm(op.EffectName(), op)
}

// EncodeValue writes an SX value in notation n.
func EncodeValue(v sx.Value, n Notation) ([]byte, error) {
	if n == JSON {
		return sx.ToJSON(v)
	}
	return sx.AppendPrint(nil, v), nil
}

// LimitError is a request over one of the server's limits.
type LimitError struct {
	Limit string // "body", "data", "batch", "follows", "blob"
	Max   int64
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("server: %s over the limit of %d", e.Limit, e.Max)
}

// ForbiddenError is a request its token has no grant for.
type ForbiddenError struct{ Grant string }

func (e *ForbiddenError) Error() string {
	return fmt.Sprintf("server: forbidden: the token lacks the grant %q", e.Grant)
}

var (
	// ErrUnauthorized is a request without a token the server knows.
	ErrUnauthorized = errors.New("server: unauthorized: no token or an unknown one")
	// ErrShuttingDown answers requests that arrive while the server shuts
	// down.
	ErrShuttingDown = errors.New("server: shutting down")
	errNotation     = errors.New("server: Content-Type is neither application/x-sx nor application/json")
	errNotFound     = errors.New("server: no such endpoint")
	errMethod       = errors.New("server: method not allowed")
)

// unavailable reports an error that means the store cannot serve.
type unavailableError struct{ err error }

func (e *unavailableError) Error() string { return e.err.Error() }
func (e *unavailableError) Unwrap() error { return e.err }

// errorAnswer gives the status code and the error dict of err, as the
// protocol lists them.
func errorAnswer(err error) (int, *sx.Dict) {
	d := sx.NewDict(sx.Keyword("message"), err.Error())
	set := func(k string, v sx.Value) { d.Set(sx.Keyword(k), v) }
	var (
		conflict  *ops.Conflict
		dup       *ops.DuplicateIDError
		invalid   *ops.InvalidError
		unknown   *UnknownOpError
		limit     *LimitError
		forbidden *ForbiddenError
		unavail   *unavailableError
		deleted   *ops.StreamDeletedError
		compacted *ops.CompactedError
	)
	status := http.StatusInternalServerError
	kind := "error"
	switch {
	case errors.As(err, &conflict):
		status, kind = http.StatusConflict, "conflict"
		if conflict.Stream != "" {
			set("stream", conflict.Stream)
		}
		if conflict.Key != "" {
			set("key", conflict.Key)
		}
		set("expected", conflict.Expected.String())
		set("actual", int64(conflict.Actual))
	case errors.As(err, &dup):
		status, kind = http.StatusConflict, "duplicate-id"
		set("stream", dup.Stream)
		set("id", dup.ID.String())
		set("seq", int64(dup.Seq))
		set("index", int64(dup.Index))
	case errors.As(err, &deleted):
		status, kind = http.StatusGone, "stream-deleted"
		set("stream", deleted.Stream)
	case errors.As(err, &compacted):
		status, kind = http.StatusGone, "compacted"
		set("revision", int64(compacted.Revision))
		set("compacted", int64(compacted.Compacted))
	case errors.As(err, &invalid):
		status, kind = http.StatusBadRequest, "invalid"
		if invalid.Op != "" {
			set("op", invalid.Op)
		}
		set("field", invalid.Field)
		set("reason", invalid.Reason)
	case errors.As(err, &unknown):
		status, kind = http.StatusBadRequest, "unknown-op"
		set("op", unknown.Op)
	case errors.Is(err, ErrUnauthorized):
		status, kind = http.StatusUnauthorized, "unauthorized"
	case errors.As(err, &forbidden):
		status, kind = http.StatusForbidden, "forbidden"
		set("grant", forbidden.Grant)
	case errors.Is(err, errNotFound):
		status, kind = http.StatusNotFound, "not-found"
	case errors.Is(err, errMethod):
		status, kind = http.StatusMethodNotAllowed, "method"
	case errors.As(err, &limit):
		status, kind = http.StatusRequestEntityTooLarge, "too-large"
		if limit.Limit == "follows" {
			status, kind = http.StatusTooManyRequests, "too-many"
		}
		set("limit", limit.Limit)
		set("max", limit.Max)
	case errors.Is(err, ops.ErrBlobTooLarge):
		// The blob store's own limit, named in its message.
		status, kind = http.StatusRequestEntityTooLarge, "too-large"
		set("limit", "blob")
	case errors.Is(err, ops.ErrBlobNotFound):
		status, kind = http.StatusNotFound, "blob-not-found"
	case errors.Is(err, ops.ErrBadCID):
		status, kind = http.StatusBadRequest, "invalid"
		set("field", "cid")
		set("reason", err.Error())
	case errors.Is(err, ops.ErrBlobMismatch):
		status, kind = http.StatusBadGateway, "blob-mismatch"
	case errors.Is(err, errNoBlobs):
		status, kind = http.StatusNotImplemented, "no-blob-store"
	case errors.Is(err, errNotation):
		status, kind = http.StatusUnsupportedMediaType, "notation"
	case errors.Is(err, ops.ErrClosed):
		status, kind = http.StatusServiceUnavailable, "closed"
	case errors.As(err, &unavail), errors.Is(err, ErrShuttingDown):
		status, kind = http.StatusServiceUnavailable, "unavailable"
	case errors.Is(err, errPipeIdle):
		status, kind = http.StatusRequestTimeout, "idle"
	case errors.As(err, new(*pipeFrameError)):
		status, kind = http.StatusBadRequest, "invalid"
		set("field", "frame")
		set("reason", err.(*pipeFrameError).reason)
	case errors.Is(err, context.DeadlineExceeded):
		status, kind = http.StatusGatewayTimeout, "timeout"
	}
	set("error", kind)
	return status, d
}
