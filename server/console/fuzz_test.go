package console_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzPageQuery sends any query string to every page: the answer is a page
// with a status the console means (never a 500, never a stack trace), and
// what the query held comes back escaped.
func FuzzPageQuery(f *testing.F) {
	fx := newFixture(f)
	fx.append(f, "orders/1", "placed", `{:order 1}`)
	fx.append(f, "orders/1", "paid", `{:order 1}`)
	fx.put(f, "cfg/a", `{:x 1}`)
	for _, q := range []string{
		"", "name=orders/1", "name=orders/1&from=2&order=oldest&limit=1", "stream=orders/1&seq=2&as=json",
		"prefix=orders/&after=orders/0&limit=20", "key=cfg/a", "prefix=%ff", "from=%00", "a=%zz", "name=<script>",
		"limit=-1", "from=18446744073709551615", "from=18446744073709551616", "seq=0", "stream=&seq=1", ";;&&==",
	} {
		f.Add(q)
	}
	srv := fx.srv
	f.Fuzz(func(t *testing.T, q string) {
		if strings.ContainsAny(q, " #\r\n\t") || strings.ContainsRune(q, 0x7f) {
			return // not in a request line
		}
		for _, page := range []string{"", "stream", "event", "live", "kv", "key", "state"} {
			req, err := http.NewRequest(http.MethodGet, "/console/"+page, nil)
			require.NoError(t, err)
			req.URL.RawQuery = q
			rec := httptest.NewRecorder()
			srv.ServeHTTP(rec, req)
			switch rec.Code {
			case http.StatusOK, http.StatusBadRequest, http.StatusNotFound:
			default:
				t.Fatalf("/console/%s?%s: status %d:\n%s", page, q, rec.Code, rec.Body)
			}
			body := rec.Body.String()
			require.Contains(t, body, "</html>", "/console/%s?%s: a whole page", page, q)
			require.NotContains(t, body, "<script>", "/console/%s?%s: nothing from the query is markup", page, q)
			require.NotContains(t, body, "goroutine ")
		}
	})
}
