package persist_test

import (
	"context"
	"net"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist"
	"rose-ash.com/persist/backends/mem"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/remote"
	"rose-ash.com/persist/server"
)

func TestDialAsksTheServer(t *testing.T) {
	ctx := context.Background()
	// No server at the address: refused at Dial, naming the URL.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	url := "http://" + ln.Addr().String()
	require.NoError(t, ln.Close())
	_, err = persist.Dial(ctx, url)
	var unreachable *remote.UnreachableError
	require.ErrorAs(t, err, &unreachable)
	assert.ErrorContains(t, err, url)

	_, err = persist.Dial(ctx, "ftp://example.com")
	assert.ErrorContains(t, err, "want http or https")
	var noCtx context.Context
	_, err = persist.Dial(noCtx, url)
	var invalid *ops.InvalidError
	assert.ErrorAs(t, err, &invalid)

	// A server whose store is closed is not ready: Dial says so.
	store := mem.New()
	srv, err := server.New(store, server.Options{})
	require.NoError(t, err)
	hs := httptest.NewServer(srv)
	defer hs.Close()
	require.NoError(t, store.Close())
	_, err = persist.Dial(ctx, hs.URL)
	assert.ErrorIs(t, err, ops.ErrClosed)

	// Options reach the client: a server with tokens takes the token.
	store = mem.New()
	defer store.Close()
	secret, tok, err := server.NewToken("app", server.Grant{Kind: server.GrantWrite}, server.Grant{Kind: server.GrantRead})
	require.NoError(t, err)
	srv, err = server.New(store, server.Options{Tokens: []server.Token{tok}})
	require.NoError(t, err)
	hs2 := httptest.NewServer(srv)
	defer hs2.Close()
	db, err := persist.Dial(ctx, hs2.URL, persist.WithRemoteOptions(remote.Options{Token: secret}))
	require.NoError(t, err)
	defer db.Close()
	_, err = db.Append(ctx, "orders", persist.Any(), persist.EventData{Type: "placed"})
	require.NoError(t, err)
	db2, err := persist.Dial(ctx, hs2.URL)
	require.NoError(t, err, "readyz needs no token")
	defer db2.Close()
	_, err = db2.Append(ctx, "orders", persist.Any(), persist.EventData{Type: "placed"})
	assert.Error(t, err, "without the token the operation is refused")
}
