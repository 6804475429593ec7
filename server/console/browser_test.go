package console_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// The browser tests drive a real headless Chromium with chromedp. One
// browser serves the whole test binary; each test opens its own browser
// context (its own cookies) and tab in it.
//
// The browser is PERSIST_CHROMIUM when set, else the first of chromium,
// chromium-browser, google-chrome on the PATH. Without one a browser test
// skips, saying so, unless CI=true, where it fails.
//
// Each test saves screenshots (PNG) in its artifact directory: run
//
//	go test -run Browser -artifacts -outputdir OUT ./server/console/
//
// and find them under OUT (the test logs each path); without -artifacts they
// go to a temporary directory that is removed after the test.

var browser struct {
	once   sync.Once
	ctx    context.Context // the browser's context; tabs are its children
	cancel func()
	err    error
	dir    string
}

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if browser.cancel != nil {
		browser.cancel()
	}
	if browser.dir != "" {
		_ = os.RemoveAll(browser.dir)
	}
	os.Exit(code)
}

// chromiumPath finds the browser.
func chromiumPath() (string, error) {
	if p := os.Getenv("PERSIST_CHROMIUM"); p != "" {
		return exec.LookPath(p)
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("no chromium, chromium-browser or google-chrome on the PATH (install Debian's chromium, or set PERSIST_CHROMIUM)")
}

// startBrowser starts the binary's one browser, once.
func startBrowser() (context.Context, error) {
	browser.once.Do(func() {
		path, err := chromiumPath()
		if err != nil {
			browser.err = err
			return
		}
		if browser.dir, err = os.MkdirTemp("", "persist-chromium-"); err != nil {
			browser.err = err
			return
		}
		opts := []chromedp.ExecAllocatorOption{
			chromedp.ExecPath(path),
			chromedp.UserDataDir(browser.dir),
			chromedp.Headless,
			chromedp.NoSandbox,
			chromedp.DisableGPU,
			chromedp.NoFirstRun,
			chromedp.NoDefaultBrowserCheck,
			chromedp.Flag("disable-quic", true),
			chromedp.Flag("disable-background-networking", true),
			chromedp.Flag("disable-component-update", true),
			chromedp.Flag("disable-sync", true),
			chromedp.Flag("disable-extensions", true),
			chromedp.Flag("disable-default-apps", true),
			chromedp.Flag("disable-dev-shm-usage", true),
			chromedp.Flag("disable-background-timer-throttling", true),
			chromedp.Flag("disable-renderer-backgrounding", true),
			chromedp.Flag("disable-backgrounding-occluded-windows", true),
			chromedp.Flag("disable-features", "Translate,MediaRouter,OptimizationHints"),
			chromedp.Flag("metrics-recording-only", true),
			chromedp.Flag("password-store", "basic"),
			chromedp.WindowSize(1280, 900),
		}
		actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
		bctx, bcancel := chromedp.NewContext(actx)
		// Start the browser now, so that a test's time is its own. The
		// browser lives as long as the context of this first run: bctx.
		if err := chromedp.Do(bctx); err != nil {
			browser.err = fmt.Errorf("start %s: %w", path, err)
		}
		browser.ctx = bctx
		browser.cancel = func() { bcancel(); acancel() }
	})
	return browser.ctx, browser.err
}

// tab opens a tab in a browser context of its own, closed at the end of
// the test or after 60 s; it skips the test when there is no browser (fails
// with CI=true).
func tab(t testing.TB) context.Context {
	t.Helper()
	return tabFor(t, 60*time.Second)
}

// tabFor is tab for a test that may use the tab for up to d.
func tabFor(t testing.TB, d time.Duration) context.Context {
	t.Helper()
	bctx, err := startBrowser()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("browser tests need Chromium: %v", err)
		}
		t.Skipf("skipping the browser test: %v", err)
	}
	ctx, cancel := chromedp.NewContext(bctx, chromedp.WithNewBrowserContext())
	ctx, tcancel := context.WithTimeout(ctx, d)
	t.Cleanup(func() { tcancel(); cancel() })
	require.NoError(t, chromedp.Do(ctx), "open a tab")
	return ctx
}

// do runs the steps, failing the test on an error.
func do(t testing.TB, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	require.NoError(t, chromedp.Do(ctx, steps...))
}

// run runs one action and gives its result, failing the test on an error.
func run[T any](t testing.TB, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	require.NoError(t, err)
	return v
}

// artifactDir is where a test keeps its screenshots.
func artifactDir(t testing.TB) string {
	if at, ok := t.(interface{ ArtifactDir() string }); ok {
		return at.ArtifactDir()
	}
	return t.TempDir()
}

// screenshot saves the whole page as NAME.png in the test's artifact
// directory.
func screenshot(t testing.TB, ctx context.Context, name string) {
	t.Helper()
	png := run(t, ctx, chromedp.FullScreenshot(100))
	require.True(t, len(png) > 8 && string(png[1:4]) == "PNG", "a PNG screenshot")
	path := filepath.Join(artifactDir(t), name+".png")
	require.NoError(t, os.WriteFile(path, png, 0o644))
	t.Logf("screenshot %s", path)
}

// text is the text content of the first element the CSS selector finds.
func text(t testing.TB, ctx context.Context, sel string) string {
	t.Helper()
	return strings.TrimSpace(run(t, ctx, chromedp.TextContent(chromedp.CSS(sel))))
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](t testing.TB, ctx context.Context, js string) T {
	t.Helper()
	return run(t, ctx, chromedp.Evaluate[T](js))
}
