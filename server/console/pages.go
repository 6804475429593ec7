package console

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/server"
)

// Page sizes: the default and the most one page shows.
const (
	defaultRows = 50
	maxRows     = 1000
	liveRows    = 20
)

// streamRow is one stream of the list: its name, head and the time of its
// last event.
type streamRow struct {
	Name string
	Head uint64
	Last time.Time
}

type streamsView struct {
	listNav
	Rows []streamRow
}

// listNav is what a page of a list (streams, keys) shows beside its rows:
// the prefix and page size asked for, the links to the next and the first
// page ("" where there is none), and, when the grants narrow the prefix,
// the prefixes the list covers.
type listNav struct {
	Prefix string
	Limit  int
	Next   string
	First  string
	Scoped []string
}

// listPage reads one page of a list of names under the prefix and after
// the name the query gives, within what grants of kind allow, by list,
// and makes its links to path.
func listPage[T any](q url.Values, acc server.Access, kind server.GrantKind, path string, validate func(prefix, after string) error, list func(prefix, after string, limit int) ([]T, bool, error), name func(T) string) ([]T, listNav, error) {
	prefix, after := q.Get("prefix"), q.Get("after")
	limit, err := limitParam(q, defaultRows, maxRows)
	if err != nil {
		return nil, listNav{}, err
	}
	if err := validate(prefix, after); err != nil {
		return nil, listNav{}, err
	}
	scopes := acc.Prefixes(kind, prefix)
	if len(scopes) == 0 {
		return nil, listNav{}, forbidden(kind, prefix)
	}
	items, more, err := merged(scopes, after, limit, list, name)
	if err != nil {
		return nil, listNav{}, err
	}
	nav := listNav{Prefix: prefix, Limit: limit}
	if len(scopes) > 1 || scopes[0] != prefix {
		nav.Scoped = scopes
	}
	lim := 0
	if limit != defaultRows {
		lim = limit
	}
	if more && len(items) > 0 {
		nav.Next = link(path, "prefix", prefix, "after", name(items[len(items)-1]), "limit", lim)
	}
	if after != "" {
		nav.First = link(path, "prefix", prefix, "limit", lim)
	}
	return items, nav, nil
}

func (c *Console) streams(ctx context.Context, r *http.Request, acc server.Access, q url.Values, v *view) (string, error) {
	infos, nav, err := listPage(q, acc, server.GrantRead, "",
		func(prefix, after string) error { return ops.Streams{Prefix: prefix, After: after}.Validate() },
		func(p, after string, limit int) ([]ops.StreamInfo, bool, error) {
			res, err := perform(ctx, c, ops.Streams{Prefix: p, After: after, Limit: limit})
			return res.Streams, res.More, err
		}, func(s ops.StreamInfo) string { return s.Name })
	if err != nil {
		return "", err
	}
	sv := &streamsView{listNav: nav}
	for _, in := range infos {
		row := streamRow{Name: in.Name, Head: in.Head}
		last, err := perform(ctx, c, ops.Read{Stream: in.Name, From: in.Head, Limit: 1})
		if err != nil {
			return "", err
		}
		if len(last.Events) > 0 {
			row.Last = last.Events[0].At
		}
		sv.Rows = append(sv.Rows, row)
	}
	v.Title, v.Nav, v.Data = "Streams", "streams", sv
	return "streams", nil
}

// merged pages through several disjoint prefixes at once: the first limit
// names after after, in byte order, of all of them, and whether more
// follow. Each prefix is asked for one page only, so a page costs the
// same however many names the store holds.
func merged[T any](prefixes []string, after string, limit int, list func(prefix, after string, limit int) ([]T, bool, error), name func(T) string) ([]T, bool, error) {
	var all []T
	more := false
	for _, p := range prefixes {
		xs, m, err := list(p, after, limit)
		if err != nil {
			return nil, false, err
		}
		all = append(all, xs...)
		more = more || m
	}
	slices.SortFunc(all, func(a, b T) int { return strings.Compare(name(a), name(b)) })
	if len(all) > limit {
		all, more = all[:limit], true
	}
	return all, more, nil
}

type streamView struct {
	Stream   string
	Head     uint64
	Order    string // "newest" or "oldest"
	From     uint64
	Limit    int
	Events   []ops.Event
	Newer    string // the link to the page of newer events
	Older    string // the link to the page of older events
	Newest   string
	Oldest   string
	LiveLink string
	// May is what the token may do to the stream, by grant kind: read
	// (the page needs it), write (append, metadata, soft delete) and
	// delete (hard delete), as the protocol checks them.
	May []server.GrantKind
}

func (c *Console) stream(ctx context.Context, r *http.Request, acc server.Access, q url.Values, v *view) (string, error) {
	name := q.Get("name")
	if err := (ops.Head{Stream: name}).Validate(); err != nil {
		return "", err
	}
	if err := need(acc, server.GrantRead, name); err != nil {
		return "", err
	}
	order := q.Get("order")
	switch order {
	case "":
		order = "newest"
	case "newest", "oldest":
	default:
		return "", badRequest("order %q: want newest or oldest.", order)
	}
	limit, err := limitParam(q, defaultRows, maxRows)
	if err != nil {
		return "", err
	}
	from, err := seqParam(q, "from")
	if err != nil {
		return "", err
	}
	head, err := perform(ctx, c, ops.Head{Stream: name})
	if err != nil {
		return "", err
	}
	if head == 0 {
		return "", notFound("There is no stream named %q: it has no events.", name)
	}
	if from > head {
		return "", notFound("Seq %d is past the head of %q, which is %d.", from, name, head)
	}
	lim := 0
	if limit != defaultRows {
		lim = limit
	}
	sv := &streamView{Stream: name, Head: head, Order: order, Limit: limit,
		LiveLink: link("live", "stream", name), May: streamGrants(acc, name)}
	pageLink := func(order string, from uint64) string {
		return link("stream", "name", name, "order", order, "from", from, "limit", lim)
	}
	if order == "oldest" {
		from = max(from, 1)
		res, err := perform(ctx, c, ops.Read{Stream: name, From: from, Limit: limit})
		if err != nil {
			return "", err
		}
		sv.Events = res.Events
		if last := from + uint64(len(res.Events)); last <= res.Head {
			sv.Newer = pageLink("oldest", last)
		}
		if from > 1 {
			sv.Older = pageLink("oldest", from-min(from-1, uint64(limit)))
		}
	} else {
		if from == 0 {
			from = head
		}
		lo := from - min(from-1, uint64(limit-1))
		res, err := perform(ctx, c, ops.Read{Stream: name, From: lo, Limit: int(from - lo + 1)})
		if err != nil {
			return "", err
		}
		sv.Events = res.Events
		slices.Reverse(sv.Events)
		if lo > 1 {
			sv.Older = pageLink("newest", lo-1)
		}
		if from < res.Head {
			sv.Newer = pageLink("newest", min(res.Head, from+uint64(limit)))
		}
	}
	sv.From = from
	sv.Newest = pageLink("newest", 0)
	sv.Oldest = pageLink("oldest", 0)
	v.Title, v.Nav, v.Data = name, "streams", sv
	return "stream", nil
}

type eventView struct {
	Event      ops.Event
	Shown      Shown
	As         string
	Size       int64
	StreamLink string
	SX, JSON   string
	Prev, Next string
}

func (c *Console) event(ctx context.Context, r *http.Request, acc server.Access, q url.Values, v *view) (string, error) {
	name := q.Get("stream")
	if err := (ops.Head{Stream: name}).Validate(); err != nil {
		return "", err
	}
	seq, err := seqParam(q, "seq")
	if err != nil {
		return "", err
	}
	if seq == 0 {
		return "", badRequest("seq: missing; name the event by its stream and seq.")
	}
	as, err := asParam(q)
	if err != nil {
		return "", err
	}
	if err := need(acc, server.GrantRead, name); err != nil {
		return "", err
	}
	res, err := perform(ctx, c, ops.Read{Stream: name, From: seq, Limit: 1})
	if err != nil {
		return "", err
	}
	if res.Head == 0 {
		return "", notFound("There is no stream named %q: it has no events.", name)
	}
	if len(res.Events) == 0 {
		return "", notFound("Seq %d is past the head of %q, which is %d.", seq, name, res.Head)
	}
	ev := res.Events[0]
	ev2 := &eventView{Event: ev, Shown: show(ev.Data, as), As: as, Size: int64(len(ev.Data)),
		StreamLink: link("stream", "name", name, "from", seq),
		SX:         link("event", "stream", name, "seq", seq),
		JSON:       link("event", "stream", name, "seq", seq, "as", "json")}
	keep := ""
	if as != "sx" {
		keep = as
	}
	if seq > 1 {
		ev2.Prev = link("event", "stream", name, "seq", seq-1, "as", keep)
	}
	if seq < res.Head {
		ev2.Next = link("event", "stream", name, "seq", seq+1, "as", keep)
	}
	v.Title, v.Nav, v.Data = name+" #"+itoa(seq), "streams", ev2
	return "event", nil
}

type liveView struct {
	Stream string // "" for the global log
	Head   uint64
	Events []ops.Event
	Follow string // the follow endpoint's URL
	Global bool
}

func (c *Console) live(ctx context.Context, r *http.Request, acc server.Access, q url.Values, v *view) (string, error) {
	name := q.Get("stream")
	if name != "" {
		if err := (ops.Head{Stream: name}).Validate(); err != nil {
			return "", err
		}
	}
	if err := need(acc, server.GrantRead, name); err != nil {
		return "", err
	}
	lv := &liveView{Stream: name, Global: name == ""}
	var events []ops.Event
	if name == "" {
		top, err := perform(ctx, c, ops.ReadAll{Limit: 1})
		if err != nil {
			return "", err
		}
		lv.Head = top.Head
		if top.Head > 0 {
			lo := top.Head - min(top.Head-1, liveRows-1)
			res, err := perform(ctx, c, ops.ReadAll{From: lo, Limit: liveRows})
			if err != nil {
				return "", err
			}
			events = res.Events
			if n := len(events); n > 0 {
				lv.Head = events[n-1].Pos
			}
		}
	} else {
		head, err := perform(ctx, c, ops.Head{Stream: name})
		if err != nil {
			return "", err
		}
		lv.Head = head
		if head > 0 {
			lo := head - min(head-1, liveRows-1)
			res, err := perform(ctx, c, ops.Read{Stream: name, From: lo, Limit: liveRows})
			if err != nil {
				return "", err
			}
			events = res.Events
			if n := len(events); n > 0 {
				lv.Head = events[n-1].Seq
			}
		}
	}
	slices.Reverse(events)
	lv.Events = events
	fq := url.Values{"from": {itoa(lv.Head + 1)}, "as": {"json"}}
	if name != "" {
		fq.Set("stream", name)
	}
	lv.Follow = "/v1/follow?" + fq.Encode()
	v.Title, v.Nav, v.Data = "Live", "live", lv
	if name != "" {
		v.Title = "Live: " + name
	}
	return "live", nil
}

type kvView struct {
	listNav
	Entries []ops.KvEntry
}

func (c *Console) kv(ctx context.Context, r *http.Request, acc server.Access, q url.Values, v *view) (string, error) {
	entries, nav, err := listPage(q, acc, server.GrantKvRead, "kv",
		func(prefix, after string) error { return ops.KvList{Prefix: prefix, After: after}.Validate() },
		func(p, after string, limit int) ([]ops.KvEntry, bool, error) {
			res, err := perform(ctx, c, ops.KvList{Prefix: p, After: after, Limit: limit})
			return res.Entries, res.More, err
		}, func(e ops.KvEntry) string { return e.Key })
	if err != nil {
		return "", err
	}
	v.Title, v.Nav, v.Data = "Keys", "kv", &kvView{listNav: nav, Entries: entries}
	return "kv", nil
}

type keyView struct {
	Entry    ops.KvEntry
	Shown    Shown
	As       string
	Size     int64
	SX, JSON string
}

func (c *Console) key(ctx context.Context, r *http.Request, acc server.Access, q url.Values, v *view) (string, error) {
	key := q.Get("key")
	if err := (ops.KvGet{Key: key}).Validate(); err != nil {
		return "", err
	}
	as, err := asParam(q)
	if err != nil {
		return "", err
	}
	if err := need(acc, server.GrantKvRead, key); err != nil {
		return "", err
	}
	e, err := perform(ctx, c, ops.KvGet{Key: key})
	if err != nil {
		return "", err
	}
	if e == nil {
		return "", notFound("There is no key %q.", key)
	}
	v.Title, v.Nav = key, "kv"
	v.Data = &keyView{Entry: *e, Shown: show(e.Value, as), As: as, Size: int64(len(e.Value)),
		SX: link("key", "key", key), JSON: link("key", "key", key, "as", "json")}
	return "key", nil
}

type stateView struct {
	Backend  string
	Started  time.Time
	Uptime   string
	Head     uint64
	Sections []Section
}

func (c *Console) state(ctx context.Context, r *http.Request, acc server.Access, q url.Values, v *view) (string, error) {
	if !acc.All() {
		return "", &server.ForbiddenError{Grant: string(server.GrantAdmin)}
	}
	top, err := perform(ctx, c, ops.ReadAll{Limit: 1})
	if err != nil {
		return "", err
	}
	sv := &stateView{Backend: c.opts.Backend, Started: c.opts.Started,
		Uptime: time.Since(c.opts.Started).Round(time.Second).String(), Head: top.Head}
	if c.opts.State != nil {
		if sv.Sections, err = c.opts.State(ctx); err != nil {
			return "", err
		}
	}
	v.Title, v.Nav, v.Data = "Store", "state", sv
	return "state", nil
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

// asParam reads the notation a page shows data in: sx (the default) or
// json.
func asParam(q url.Values) (string, error) {
	switch as := q.Get("as"); as {
	case "":
		return "sx", nil
	case "sx", "json":
		return as, nil
	default:
		return "", badRequest("as %q: want sx or json.", as)
	}
}

// streamGrants is the kinds of stream grant the access holds for name.
func streamGrants(acc server.Access, name string) []server.GrantKind {
	var out []server.GrantKind
	for _, k := range []server.GrantKind{server.GrantRead, server.GrantWrite, server.GrantDelete} {
		if acc.Allows(k, name) {
			out = append(out, k)
		}
	}
	return out
}

// need refuses a page whose access holds no grant of kind for name.
func need(acc server.Access, kind server.GrantKind, name string) error {
	if !acc.Allows(kind, name) {
		return forbidden(kind, name)
	}
	return nil
}

// forbidden names the grant a page needs.
func forbidden(kind server.GrantKind, prefix string) error {
	return &server.ForbiddenError{Grant: server.Grant{Kind: kind, Prefix: prefix}.String()}
}
