package persist

import (
	"context"
	"fmt"

	"rose-ash.com/persist/remote"
)

// WithRemoteOptions sets how Dial talks to the server: the bearer token,
// JSON instead of SX, HTTP/2, gathering of concurrent operations, an HTTP
// client of the caller's (see remote.Options). Dial uses it; the other
// constructors ignore it.
func WithRemoteOptions(o remote.Options) Option {
	return func(c *config) { c.remote = o }
}

// Dial opens the store a persist server serves at url (http or https, as
// persist serve prints it). Programs and methods run on the DB as on a
// local store: each operation travels to the server and its answer resumes
// the program, conflicts and other errors as the same values. Dial asks the
// server whether it is ready before it returns, within ctx: an unreachable
// server is a *remote.UnreachableError naming the URL. Many processes may
// dial one server at once. Close ends the client, not the server.
func Dial(ctx context.Context, url string, opts ...Option) (*DB, error) {
	if ctx == nil {
		return nil, nilContext("dial")
	}
	c := configure(opts)
	client, err := remote.Dial(url, c.remote)
	if err != nil {
		return nil, err
	}
	if err := client.Ping(ctx); err != nil {
		client.Close()
		return nil, fmt.Errorf("persist: dial %s: %w", url, err)
	}
	return newDB(client, c), nil
}
