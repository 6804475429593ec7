package sx

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFromJSONGoRoundTrip(t *testing.T) {
	type part struct {
		Type string
		Data []byte
	}
	type op struct {
		Stream   string
		FirstSeq uint64
		Parts    []part
	}
	in := op{Stream: "orders", FirstSeq: 3, Parts: []part{
		{Type: "text", Data: []byte("{:order 17}")},
		{Type: "binary", Data: []byte{0xff, 0x00, 0xfe}},
	}}
	v, err := FromGo(in)
	require.NoError(t, err)
	j, err := ToJSON(v)
	require.NoError(t, err)
	assert.Equal(t, `{"first-seq":3,"parts":[{"data":"{:order 17}","type":"text"},{"data":["bytes","/wD+"],"type":"binary"}],"stream":"orders"}`, string(j))

	back, err := FromJSONGo(j)
	require.NoError(t, err)
	assert.True(t, Equal(v, back), "FromJSONGo(ToJSON(v)) = %s, want %s", Print(back), Print(v))
	var out op
	require.NoError(t, ToGo(back, &out))
	assert.Equal(t, in, out)
}

func TestFromJSONGoKeepsOtherKeys(t *testing.T) {
	// A key that is no keyword name stays a string; arrays that only look
	// like bytes stay vectors.
	v, err := FromJSONGo([]byte(`{"1st": ["bytes", 2], "ok": ["bytes", "AA==", 3]}`))
	require.NoError(t, err)
	assert.Equal(t, `{"1st" ["bytes" 2] :ok ["bytes" "AA==" 3]}`, Print(v))
	_, err = FromJSONGo([]byte(`{"a": `))
	assert.Error(t, err)
}
