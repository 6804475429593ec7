package remote

// SetDialed makes c call f as each dial of its own transport finishes.
func SetDialed(c *Client, f func()) { c.dialed = f }
