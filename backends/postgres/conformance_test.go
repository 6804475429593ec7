package postgres_test

import (
	"testing"

	"rose-ash.com/persist/backends/backendtest"
	"rose-ash.com/persist/backends/postgres"
	"rose-ash.com/persist/ops"
)

func factory(t *testing.T) ops.Backend {
	return mustOpen(t, postgres.WithClock(backendtest.Clock()), postgres.WithIDs(backendtest.IDs()), postgres.WithMaxConns(4))
}

func TestConformance(t *testing.T) {
	backendtest.RunWith(t, factory, backendtest.Options{Retention: true})
}
