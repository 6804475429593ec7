package console_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// rosterPrefix starts the line naming every browser case, for the
// conformance scoreboard (see internal/scoreboard).
const rosterPrefix = "conformance roster:"

// browserCase is one end-to-end case in the browser.
type browserCase struct {
	name string
	run  func(t *testing.T, s *site)
}

// site is the store the browser cases look at: a server with tokens, the
// console mounted, and streams, events and keys in the store.
type site struct {
	*fixture
	admin, reader string // secrets
}

// evil is event data that would run a script if a page put it in as
// markup.
const evil = `{:note "<script>window.__pwned = 1</script>" :img "<img src=x onerror='window.__pwned = 2'>"}`

func newSite(t *testing.T) *site {
	admin, adminTok := token(t, "root", "admin")
	reader, readerTok := token(t, "reader", "read users/")
	s := &site{fixture: newFixture(t, adminTok, readerTok), admin: admin, reader: reader}
	p := effect.Handle(context.Background(), s.store)
	var appends []ops.Append
	for i := range 60 {
		appends = append(appends,
			ops.Append{Stream: fmt.Sprintf("orders/%03d", i), Events: []ops.EventData{{Type: "placed", Data: []byte(fmt.Sprintf("{:order %d}", i))}}},
			ops.Append{Stream: fmt.Sprintf("users/%03d", i), Events: []ops.EventData{{Type: "joined", Data: []byte(fmt.Sprintf(`{"user": %d}`, i))}}})
	}
	_, err := effect.Perform(p, ops.Commit{Appends: appends})
	require.NoError(t, err)
	events := []ops.EventData{{Type: "evil", Data: []byte(evil)}}
	for i := 2; i <= 130; i++ {
		events = append(events, ops.EventData{Type: "tick", Data: []byte(fmt.Sprintf("{:n %d :items [{:sku \"a-%d\" :qty 2 :price 1999} {:sku \"b-%d\" :qty 1 :price 500}]}", i, i, i))})
	}
	_, err = effect.Perform(p, ops.Append{Stream: "big", Events: events})
	require.NoError(t, err)
	s.put(t, "cfg/limits", `{:rate 100 :burst 20}`)
	s.put(t, "cfg/<script>", evil)
	s.put(t, "cfg/limits", `{:rate 200 :burst 40}`)
	return s
}

// signIn opens the sign-in form, posts the secret and lands on path.
func (s *site) signIn(t testing.TB, ctx context.Context, secret, path string) {
	t.Helper()
	do(t, ctx,
		chromedp.Navigate(s.url+"/console/login?next="+url.QueryEscape(path)),
		chromedp.SetValue(chromedp.CSS("#token"), secret),
		chromedp.Click(chromedp.CSS("form.login button")),
		chromedp.WaitVisible(chromedp.CSS("header .who .token")),
	)
	require.Equal(t, s.url+path, run(t, ctx, chromedp.Location()))
}

// rows counts the rows of a table's body.
func rows(t *testing.T, ctx context.Context, table string) int {
	return eval[int](t, ctx, fmt.Sprintf(`document.querySelectorAll(%q).length`, table+" tbody tr"))
}

// following waits until the live page's follow is open.
func following(t testing.TB, ctx context.Context) {
	t.Helper()
	run(t, ctx, chromedp.Poll[bool](`document.getElementById("live-status").textContent === "Live: following"`))
}

var browserCases = []browserCase{
	{"stream-list", func(t *testing.T, s *site) {
		ctx := tab(t)
		s.signIn(t, ctx, s.admin, "/console/")
		assert.Equal(t, 50, rows(t, ctx, "#streams"), "a page of 50")
		assert.Equal(t, "big", text(t, ctx, "#streams tbody tr:first-child a.stream"))
		assert.Equal(t, "130", text(t, ctx, "#streams tbody tr:first-child td.num"))
		assert.NotEmpty(t, eval[string](t, ctx, `document.querySelector("#streams tbody tr:first-child time").dateTime`), "a last-write time")
		assert.Equal(t, "root", text(t, ctx, "header .who .token"))
		screenshot(t, ctx, "stream-list")
		do(t, ctx, chromedp.Click(chromedp.CSS("#next")), chromedp.WaitVisible(chromedp.CSS("a[rel=first]")))
		assert.Equal(t, "orders/049", text(t, ctx, "#streams tbody tr:first-child a.stream"))
		screenshot(t, ctx, "stream-list-next")
	}},
	{"filter", func(t *testing.T, s *site) {
		ctx := tab(t)
		s.signIn(t, ctx, s.admin, "/console/")
		do(t, ctx,
			chromedp.SendKeys(chromedp.CSS("#prefix"), "users/01"),
			chromedp.Click(chromedp.CSS("form.filter button")),
			chromedp.WaitVisible(chromedp.CSS(`input#prefix[value="users/01"]`)),
		)
		names := eval[[]string](t, ctx, `[...document.querySelectorAll("#streams a.stream")].map(a => a.textContent)`)
		assert.Len(t, names, 10)
		for _, n := range names {
			assert.True(t, strings.HasPrefix(n, "users/01"), n)
		}
		screenshot(t, ctx, "filter")

		// A reader sees only what its grants allow.
		rctx := tab(t)
		s.signIn(t, rctx, s.reader, "/console/")
		names = eval[[]string](t, rctx, `[...document.querySelectorAll("#streams a.stream")].map(a => a.textContent)`)
		require.Len(t, names, 50)
		for _, n := range names {
			assert.True(t, strings.HasPrefix(n, "users/"), n)
		}
		assert.Contains(t, text(t, rctx, "p.note"), "users/")
		screenshot(t, rctx, "filter-by-grant")
	}},
	{"open-stream", func(t *testing.T, s *site) {
		ctx := tab(t)
		s.signIn(t, ctx, s.admin, "/console/")
		do(t, ctx, chromedp.Click(chromedp.CSS(`a.stream[href$="name=big"]`)), chromedp.WaitVisible(chromedp.CSS("#stream-name")))
		assert.Equal(t, "big", text(t, ctx, "#stream-name"))
		assert.Equal(t, "130", text(t, ctx, "#head"))
		assert.Equal(t, 50, rows(t, ctx, "#events"))
		assert.Equal(t, "130", eval[string](t, ctx, `document.querySelector("#events tbody tr").dataset.seq`), "newest first")
		screenshot(t, ctx, "open-stream")
	}},
	{"page", func(t *testing.T, s *site) {
		ctx := tab(t)
		s.signIn(t, ctx, s.admin, "/console/stream?name=big")
		do(t, ctx, chromedp.Click(chromedp.CSS("#older")), chromedp.WaitVisible(chromedp.CSS("#newer")))
		assert.Equal(t, "80", eval[string](t, ctx, `document.querySelector("#events tbody tr").dataset.seq`))
		screenshot(t, ctx, "page-older")
		// Jump to a seq, oldest first, 20 a page.
		do(t, ctx,
			chromedp.SetValue(chromedp.CSS("#from"), "7"),
			chromedp.SetValue(chromedp.CSS("#order"), "oldest"),
			chromedp.SetValue(chromedp.CSS("#limit"), "20"),
			chromedp.Click(chromedp.CSS("form.filter button")),
			chromedp.WaitReady(chromedp.CSS(`#order option[value=oldest][selected]`)),
		)
		seqs := eval[[]string](t, ctx, `[...document.querySelectorAll("#events tbody tr")].map(r => r.dataset.seq)`)
		require.Len(t, seqs, 20)
		assert.Equal(t, "7", seqs[0])
		assert.Equal(t, "26", seqs[19])
		screenshot(t, ctx, "page-jump")
	}},
	{"open-event", func(t *testing.T, s *site) {
		ctx := tab(t)
		s.signIn(t, ctx, s.admin, "/console/stream?name=big&order=oldest")
		do(t, ctx, chromedp.Click(chromedp.CSS(`#events tbody tr[data-seq="1"] a`)), chromedp.WaitVisible(chromedp.CSS("#ev-data")))
		assert.Equal(t, "evil", text(t, ctx, "#ev-type"))
		assert.Equal(t, "1", text(t, ctx, "#ev-seq"))
		assert.Equal(t, "big", text(t, ctx, "#ev-stream"))
		assert.NotEmpty(t, text(t, ctx, "#ev-id"))
		data := text(t, ctx, "#ev-data")
		assert.Contains(t, data, "<script>window.__pwned = 1</script>", "the data shows as text")
		assert.Equal(t, 0, eval[int](t, ctx, `document.querySelectorAll("main script, main img").length`), "and makes no elements")
		assert.True(t, eval[bool](t, ctx, `window.__pwned === undefined`), "and runs nothing")
		screenshot(t, ctx, "open-event")

		do(t, ctx, chromedp.Navigate(s.url+"/console/event?stream=big&seq=2"), chromedp.WaitVisible(chromedp.CSS("#ev-data")))
		assert.Equal(t, "{:items [{:price 1999 :qty 2 :sku \"a-2\"} {:price 500 :qty 1 :sku \"b-2\"}]\n :n 2}", text(t, ctx, "#ev-data"), "SX pretty-printed over lines")
		do(t, ctx, chromedp.Click(chromedp.CSS(`nav.tabs a[href*="as=json"]`)), chromedp.WaitVisible(chromedp.CSS(`#ev-data[data-notation=json]`)))
		assert.Contains(t, text(t, ctx, "#ev-data"), "\"items\": [\n")
		screenshot(t, ctx, "open-event-json")
	}},
	{"live", func(t *testing.T, s *site) {
		ctx := tab(t)
		s.signIn(t, ctx, s.admin, "/console/live?stream=big")
		following(t, ctx)
		res := s.append(t, "big", "shipped", `{:carrier "<b>post</b>"}`)
		do(t, ctx, chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#live tbody tr[data-seq="%d"]`, res.Head))))
		row := fmt.Sprintf(`#live tbody tr[data-seq="%d"]`, res.Head)
		assert.Equal(t, "shipped", text(t, ctx, row+" td:nth-child(2)"))
		assert.Equal(t, `{:carrier "<b>post</b>"}`, text(t, ctx, row+" td.data"), "live data goes in as text")
		assert.Equal(t, "1", text(t, ctx, "#live-count"))
		screenshot(t, ctx, "live-stream")

		// The global log.
		do(t, ctx, chromedp.Navigate(s.url+"/console/live"))
		following(t, ctx)
		res = s.append(t, "users/007", "renamed", `{:name "x"}`)
		do(t, ctx, chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#live tbody tr[data-pos="%d"]`, res.LastPos))))
		assert.Equal(t, "users/007", text(t, ctx, fmt.Sprintf(`#live tbody tr[data-pos="%d"] td:nth-child(2)`, res.LastPos)))
		screenshot(t, ctx, "live-global")
	}},
	{"kv", func(t *testing.T, s *site) {
		ctx := tab(t)
		s.signIn(t, ctx, s.admin, "/console/kv?prefix=cfg/")
		keys := eval[[]string](t, ctx, `[...document.querySelectorAll("#keys a.key")].map(a => a.textContent)`)
		assert.Equal(t, []string{"cfg/<script>", "cfg/limits"}, keys)
		screenshot(t, ctx, "kv")
		do(t, ctx, chromedp.Click(chromedp.CSS(`a.key[href$="limits"]`)), chromedp.WaitVisible(chromedp.CSS("#key-value")))
		assert.Equal(t, "cfg/limits", text(t, ctx, "#key-name"))
		assert.Equal(t, "3", text(t, ctx, "#key-rev"))
		assert.Equal(t, "{:burst 40 :rate 200}", text(t, ctx, "#key-value"))
		screenshot(t, ctx, "kv-key")
	}},
	{"state", func(t *testing.T, s *site) {
		ctx := tab(t)
		s.signIn(t, ctx, s.admin, "/console/state")
		assert.NotEmpty(t, text(t, ctx, "#uptime"))
		assert.NotEqual(t, "0", text(t, ctx, "#global-head"))
		assert.Equal(t, "Figures", text(t, ctx, "section.figures h2"))
		assert.Equal(t, "42", text(t, ctx, "section.figures td"))
		screenshot(t, ctx, "state")
	}},
	{"refused", func(t *testing.T, s *site) {
		ctx := tab(t)
		resp := run(t, ctx, chromedp.NavigateResponse(s.url+"/console/stream?name=big"))
		assert.Equal(t, int64(http.StatusUnauthorized), resp.Status)
		assert.Equal(t, "Sign in", text(t, ctx, "#error h1"))
		assert.Contains(t, text(t, ctx, "#reason"), "needs a token")
		assert.Equal(t, 0, eval[int](t, ctx, `document.querySelectorAll("#events").length`), "no data without a token")
		screenshot(t, ctx, "refused")
		// A wrong token is refused with the reason.
		do(t, ctx, chromedp.SetValue(chromedp.CSS("#token"), "pst_not-a-token"),
			chromedp.Click(chromedp.CSS("form.login button")),
			chromedp.WaitVisible(chromedp.CSS("#login #reason")))
		assert.Equal(t, "The server does not know that token.", text(t, ctx, "#reason"))
		screenshot(t, ctx, "refused-unknown")
		// The form signs in and returns to the page asked for.
		do(t, ctx, chromedp.SetValue(chromedp.CSS("#token"), s.reader),
			chromedp.Click(chromedp.CSS("form.login button")),
			chromedp.WaitVisible(chromedp.CSS("#error #reason")))
		assert.Contains(t, text(t, ctx, "#reason"), `lacks the grant "read big"`, "a reader of users/ may not read big")
		assert.Equal(t, "Forbidden", text(t, ctx, "#error h1"))
		screenshot(t, ctx, "refused-forbidden")
		do(t, ctx, chromedp.Click(chromedp.CSS("header .who button")), chromedp.WaitVisible(chromedp.CSS("#login")))
		resp = run(t, ctx, chromedp.NavigateResponse(s.url+"/console/"))
		assert.Equal(t, int64(http.StatusUnauthorized), resp.Status, "signed out")
	}},
	{"bad-input", func(t *testing.T, s *site) {
		ctx := tab(t)
		s.signIn(t, ctx, s.admin, "/console/")
		head, err := effect.Perform(effect.Handle(context.Background(), s.store), ops.Head{Stream: "big"})
		require.NoError(t, err)
		for _, c := range []struct {
			path   string
			status int64
			reason string
		}{
			{"/console/stream?name=nope", 404, `There is no stream named "nope": it has no events.`},
			{"/console/stream?name=big&from=500", 404, fmt.Sprintf(`Seq 500 is past the head of "big", which is %d.`, head)},
			{"/console/?prefix=%ff", 400, "prefix: not valid UTF-8"},
		} {
			resp := run(t, ctx, chromedp.NavigateResponse(s.url+c.path))
			assert.Equal(t, c.status, resp.Status, c.path)
			assert.Equal(t, c.reason, text(t, ctx, "#reason"), c.path)
		}
		screenshot(t, ctx, "bad-input")
	}},
	{"phone", func(t *testing.T, s *site) {
		ctx := tab(t)
		s.signIn(t, ctx, s.admin, "/console/stream?name=big")
		do(t, ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulateScale(2)),
			chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#events")))
		assert.LessOrEqual(t, eval[int](t, ctx, `document.documentElement.scrollWidth`), 390, "the page fits the width; wide tables scroll in their box")
		screenshot(t, ctx, "phone-stream")
		do(t, ctx, chromedp.Navigate(s.url+"/console/event?stream=big&seq=2"), chromedp.WaitVisible(chromedp.CSS("#ev-data")))
		assert.LessOrEqual(t, eval[int](t, ctx, `document.documentElement.scrollWidth`), 390)
		screenshot(t, ctx, "phone-event")

		// Keyboard: the first Tab reaches the skip link, with a focus ring.
		do(t, ctx, chromedp.KeyEvent("\t"))
		assert.Equal(t, "Skip to content", eval[string](t, ctx, `document.activeElement.textContent`))
		do(t, ctx, chromedp.KeyEvent("\t"), chromedp.KeyEvent("\t"))
		assert.Equal(t, "Streams", eval[string](t, ctx, `document.activeElement.textContent`))
		assert.NotEqual(t, "none", eval[string](t, ctx, `getComputedStyle(document.activeElement).outlineStyle`), "focus is visible")
		do(t, ctx, chromedp.KeyEvent("\r"), chromedp.WaitVisible(chromedp.CSS("#streams")))
		screenshot(t, ctx, "phone-keyboard")
	}},
}

// TestConformanceBrowser runs the console's end-to-end cases in headless
// Chromium, as the conformance suite "browser" of the console.
func TestConformanceBrowser(t *testing.T) {
	if testing.Verbose() {
		names := make([]string, len(browserCases))
		for i, c := range browserCases {
			names[i] = "browser/" + c.name
		}
		t.Logf("%s %s", rosterPrefix, strings.Join(names, " "))
	}
	s := newSite(t)
	t.Run("browser", func(t *testing.T) {
		for _, c := range browserCases {
			t.Run(c.name, func(t *testing.T) { c.run(t, s) })
		}
	})
}
