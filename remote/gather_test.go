package remote_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/remote"
	"rose-ash.com/persist/server"
)

// TestGatherAnswersEachOnItsOwn has many goroutines perform at once through
// a gathering client, half of them outside the token's grants, half of
// them with events too large for a batch of their own. A batch the server
// refuses whole for what some of its operations ask must not fail the
// others: each operation gets the answer it would get alone.
func TestGatherAnswersEachOnItsOwn(t *testing.T) {
	g, err := server.ParseGrant("write ok/")
	require.NoError(t, err)
	secret, tok, err := server.NewToken("writer", g)
	require.NoError(t, err)
	const body = 64 << 10
	c, _ := serve(t, memStore(), server.Options{Tokens: []server.Token{tok}, Limits: server.Limits{Body: 3 * body}},
		remote.Options{Token: secret, Gather: true})
	defer c.Close()

	const n = 48
	big := bytes.Repeat([]byte("x"), body-1024)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			stream := fmt.Sprintf("ok/%d", i)
			if i%2 == 1 {
				stream = fmt.Sprintf("no/%d", i)
			}
			p := effect.Handle(context.Background(), c)
			_, errs[i] = effect.Perform(p, ops.Append{Stream: stream, Events: []ops.EventData{{Type: "t", Data: big}}})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if i%2 == 0 {
			assert.NoError(t, err, "append %d is within the grants and the limits", i)
		} else {
			assert.ErrorIs(t, err, remote.ErrForbidden, "append %d is outside the grants", i)
		}
	}
}
