package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rogpeppe/go-internal/testscript"

	"rose-ash.com/persist/backends/postgres"
)

// waitFor polls check every 10 ms for up to 20 s.
func waitFor(check func() bool) bool {
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if check() {
			return true
		}
	}
	return false
}

var servingLine = regexp.MustCompile(`persist: serving .* on (https?://\S+)`)

// cmdWaitserve is "waitserve LOG VAR": waits until the log of a "persist
// serve" says where it listens, then until the server is ready, and sets
// VAR to its URL.
func cmdWaitserve(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: waitserve LOG VAR")
	}
	var url string
	if !waitFor(func() bool {
		b, _ := os.ReadFile(ts.MkAbs(args[0]))
		if m := servingLine.FindSubmatch(b); m != nil {
			url = string(m[1])
			return true
		}
		return false
	}) {
		b, _ := os.ReadFile(ts.MkAbs(args[0]))
		ts.Fatalf("no server started within 20s; its log:\n%s", b)
	}
	if !waitFor(func() bool {
		resp, err := http.Get(url + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}) {
		ts.Fatalf("%s not ready within 20s", url)
	}
	ts.Setenv(args[1], url)
}

// cmdWaitgrep is "waitgrep FILE REGEXP": waits up to 20s until FILE
// matches REGEXP.
func cmdWaitgrep(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: waitgrep FILE REGEXP")
	}
	re, err := regexp.Compile("(?m)" + args[1])
	ts.Check(err)
	if !waitFor(func() bool {
		b, _ := os.ReadFile(ts.MkAbs(args[0]))
		return re.Match(b)
	}) {
		b, _ := os.ReadFile(ts.MkAbs(args[0]))
		ts.Fatalf("%s does not match %q within 20s; it holds:\n%s", args[0], args[1], b)
	}
}

// cmdPost is "post URL MEDIA BODY [TOKEN]": posts BODY as MEDIA (sx or
// json) and prints the status and the answer's media type on the first
// line of stdout and the answer after it.
func cmdPost(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 3 || len(args) > 4 {
		ts.Fatalf("usage: post URL sx|json BODY [TOKEN]")
	}
	media := map[string]string{"sx": "application/x-sx", "json": "application/json"}[args[1]]
	if media == "" {
		ts.Fatalf("post: media %q: want sx or json", args[1])
	}
	req, err := http.NewRequest(http.MethodPost, args[0], strings.NewReader(args[2]))
	ts.Check(err)
	req.Header.Set("Content-Type", media)
	if len(args) == 4 {
		req.Header.Set("Authorization", "Bearer "+args[3])
	}
	resp, err := http.DefaultClient.Do(req)
	ts.Check(err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	ts.Check(err)
	fmt.Fprintf(ts.Stdout(), "%d %s\n%s\n", resp.StatusCode, resp.Header.Get("Content-Type"), strings.TrimSpace(string(body)))
}

// cmdGet is "get URL [TOKEN]": a GET as a browser sends it (Accept
// text/html), printing the status, the content type and the body.
func cmdGet(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 || len(args) > 2 {
		ts.Fatalf("usage: get URL [TOKEN]")
	}
	req, err := http.NewRequest(http.MethodGet, args[0], nil)
	ts.Check(err)
	req.Header.Set("Accept", "text/html")
	if len(args) == 2 {
		req.Header.Set("Authorization", "Bearer "+args[1])
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	ts.Check(err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	ts.Check(err)
	fmt.Fprintf(ts.Stdout(), "%d %s %s\n%s\n", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Location"), strings.TrimSpace(string(body)))
}

// testPGDSN is the PostgreSQL test server of the [postgres] condition, as
// in the tests of package postgres: PERSIST_TEST_PG overrides it.
func testPGDSN() string {
	if dsn := os.Getenv("PERSIST_TEST_PG"); dsn != "" {
		return dsn
	}
	return "postgres://root@127.0.0.1:5432/test?sslmode=disable"
}

var pgReach struct {
	once sync.Once
	err  error
}

// pgCondition answers [postgres]: whether the test server answers. When
// CI=true an absent server is an error, so the script fails rather than
// skips.
func pgCondition() (bool, error) {
	pgReach.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, testPGDSN())
		if err == nil {
			_ = conn.Close(ctx)
		}
		pgReach.err = err
	})
	if pgReach.err != nil {
		if os.Getenv("CI") == "true" {
			return false, fmt.Errorf("PostgreSQL test server %s: %v", postgres.Redact(testPGDSN()), pgReach.err)
		}
		return false, nil
	}
	return true, nil
}

// setupPG gives each script PGDSN and a schema of its own, PGSCHEMA,
// dropped when the script ends.
func setupPG(env *testscript.Env) {
	var b [4]byte
	_, _ = rand.Read(b[:])
	schema := "t_cli_" + hex.EncodeToString(b[:])
	env.Setenv("PGDSN", testPGDSN())
	env.Setenv("PGSCHEMA", schema)
	env.Defer(func() {
		if ok, _ := pgCondition(); !ok {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, testPGDSN())
		if err != nil {
			return
		}
		defer conn.Close(ctx)
		_, _ = conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
	})
}
