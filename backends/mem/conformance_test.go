package mem_test

import (
	"testing"

	"rose-ash.com/persist/backends/backendtest"
	"rose-ash.com/persist/backends/mem"
	"rose-ash.com/persist/ops"
)

func factory(t *testing.T) ops.Backend {
	return mem.New(mem.WithClock(backendtest.Clock()), mem.WithIDs(backendtest.IDs()))
}

func TestConformance(t *testing.T) {
	backendtest.RunWith(t, factory, backendtest.Options{Retention: true})
}
