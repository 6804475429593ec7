package server_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/server"
)

// FuzzDecodeOp feeds the request decoder arbitrary bodies in both
// notations: it never panics, refuses with an error, and what it accepts
// encodes back to a body that decodes to the same operation.
func FuzzDecodeOp(f *testing.F) {
	for _, seed := range []string{
		`(persist/append {:stream "orders" :expect "no-stream" :events [{:type "placed" :data "{:order 17}"}]})`,
		`(persist/commit {:appends [{:stream "a" :events [{:id "7b1c3f1e-0000-4000-8000-000000000001" :type "t" :data (bytes "/wD+")}]}] :kv [{:key "k" :value "v" :delete true :expect "3"}]})`,
		`(persist/wait {:stream "s" :after 3 :timeout 1000})`,
		`(persist/now)`,
		`["persist/kv-put",{"key":"k","value":["bytes","AA=="],"expect":"exists"}]`,
		`["persist/read",{"stream":"s","from":-1}]`,
		`[(persist/head {:stream "a"}) ["persist/now"]]`,
		`(persist/snapshot-write {:snapshot {:name "p" :version 1 :seq 2 :value "x"}})`,
		`(persist/append {:stream "s" :events [{:id "00000000-0000-0000-0000-000000000000" :type "t"} {:id 7 :type "t"}]})`,
		`["persist/commit",{"appends":[{"stream":"s","events":[{"id":"not-a-uuid","type":"t"}]}]}]`,
		`(persist/stream-meta-write {:stream "s" :expect "any" :meta {:max-count 10 :max-age 3600000000000 :truncate-before 4}})`,
		`(persist/stream-delete {:stream "s" :hard true})`, `["persist/kv-watch",{"prefix":"cfg/","from":3,"limit":10}]`,
		`(persist/kv-history {:key "k" :limit -1})`, `(persist/kv-wait {:after 2 :timeout 5})`, `(persist/stat)`,
		`(persist/snapshot-generations {:name "p"})`, `(persist/snapshot-write {:snapshot {:name "p" :version 1 :seq 2 :value "x"} :keep 3})`,
		`{:a 1}`, `(`, `["persist/head", 3]`, `(persist/head {"stream" "s"})`,
	} {
		f.Add([]byte(seed), false)
		f.Add([]byte(seed), true)
	}
	f.Fuzz(func(t *testing.T, body []byte, asJSON bool) {
		n := server.SX
		if asJSON {
			n = server.JSON
		}
		op, err := server.DecodeOp(body, n)
		if err == nil {
			require.NotNil(t, op)
			for _, m := range []server.Notation{server.SX, server.JSON} {
				b, err := server.EncodeOp(op, m)
				if err != nil {
					continue // no JSON form (a name that is not UTF-8)
				}
				back, err := server.DecodeOp(b, m)
				require.NoError(t, err, "re-decoding %s", b)
				again, err := server.EncodeOp(back, m)
				require.NoError(t, err)
				assert.Equal(t, string(b), string(again), "the operation changed through the wire")
			}
		} else {
			assert.NotEmpty(t, err.Error())
		}
		ops, errs, err := server.DecodeBatch(body, n, 8)
		if err == nil {
			assert.Len(t, errs, len(ops))
		}
	})
}
