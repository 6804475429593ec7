package console

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/sx"
)

func TestPrettySX(t *testing.T) {
	long := `{:order 17 :items [{:sku "a-1" :qty 2 :price 1999} {:sku "b-2" :qty 1 :price 500}] :address {:street "1 Long Road" :city "Somewhere"}}`
	got, err := prettySX([]byte(long))
	require.NoError(t, err)
	assert.Equal(t, `{:address {:city "Somewhere" :street "1 Long Road"}
 :items [{:price 1999 :qty 2 :sku "a-1"} {:price 500 :qty 1 :sku "b-2"}]
 :order 17}`, got)

	got, err = prettySX([]byte(`{"order": 17}`))
	require.NoError(t, err)
	assert.Equal(t, `{"order" 17}`, got, "JSON data shows as the SX value it reads as")

	_, err = prettySX([]byte(`{:a`))
	assert.Error(t, err)
}

func TestPrettyJSON(t *testing.T) {
	got, err := prettyJSON([]byte(`{:order 17 :tags ["a"]}`))
	require.NoError(t, err)
	assert.Equal(t, "{\n  \"order\": 17,\n  \"tags\": [\n    \"a\"\n  ]\n}", got)
}

func TestShowFallsBack(t *testing.T) {
	s := show([]byte("plain words, (unbalanced"), "sx")
	assert.Equal(t, "text", s.Notation)
	assert.Equal(t, "plain words, (unbalanced", s.Text)
	assert.Contains(t, s.Why, "neither SX nor JSON")

	s = show([]byte{0xff, 0x00, 0x10}, "json")
	assert.Equal(t, "hex", s.Notation)
	assert.Equal(t, "ff 00 10", s.Text)

	assert.Equal(t, `{:a 1}`, preview([]byte("{:a   1}"), 120))
	p := preview([]byte(`"`+strings.Repeat("x", 300)+`"`), 20)
	assert.Equal(t, 20, utf8.RuneCountInString(p))
	assert.True(t, strings.HasSuffix(p, "…"))
}

// FuzzPretty checks that what the SX printer shows reads back as the value
// the data holds, and that showing any bytes never fails.
func FuzzPretty(f *testing.F) {
	for _, s := range []string{
		`{:order 17 :items [{:sku "a-1" :qty 2 :price 1999} {:sku "b-2" :qty 1 :price 500}] :address {:street "1 Long Road" :city "Somewhere"}}`,
		`[1 2 3]`, `(a b (c d))`, `{"a": [1, 2, {"b": null}]}`, `"<script>"`, `17`, ``, `{:a`, "\xff",
		`{:k ` + strings.Repeat(`[{:x "aaaaaaaaaa"} `, 8) + strings.Repeat(`]`, 8) + `}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, as := range []string{"sx", "json"} {
			s := show(data, as)
			if s.Notation == "text" && s.Text != string(data) {
				t.Fatalf("text shown is not the data")
			}
		}
		_ = preview(data, 40)
		text, err := prettySX(data)
		if err != nil {
			return
		}
		want, err := readData(data)
		require.NoError(t, err)
		got, err := sx.Read(text)
		require.NoError(t, err, "pretty text %q does not read", text)
		if !sx.Equal(want, got) {
			t.Fatalf("pretty text %q reads as %s, not %s", text, sx.Print(got), sx.Print(want))
		}
		if j, err := prettyJSON(data); err == nil && !utf8.ValidString(j) {
			t.Fatalf("JSON shown is not UTF-8")
		}
	})
}
