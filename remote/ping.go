package remote

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"rose-ash.com/persist/ops"
)

// Ping asks the server whether it is ready (GET /readyz): nil when it
// answers that its store answers, an *UnreachableError when no server
// answers at the URL, and the server's error otherwise (unavailable while
// it shuts down, say). It needs no grant.
func (c *Client) Ping(ctx context.Context) error {
	if c.ctx.Err() != nil {
		return ops.ErrClosed
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/readyz", nil)
	if err != nil {
		return fmt.Errorf("remote: %w", err)
	}
	media, _ := c.notation()
	req.Header.Set("Accept", media)
	resp, err := c.hc.Do(req)
	if err != nil {
		return c.transportError(ctx, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return c.transportError(ctx, err)
	}
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	v, err := decodeValue(b, resp.Header.Get("Content-Type"))
	if err != nil {
		return fmt.Errorf("remote: readyz answered %d: %w", resp.StatusCode, err)
	}
	return decodeError(resp.StatusCode, v)
}
