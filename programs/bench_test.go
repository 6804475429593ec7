package programs_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/programs"
)

func sumStep(n int, ev ops.Event) (int, error) { return n + len(ev.Data), nil }

func BenchmarkProject1000(b *testing.B) {
	store := newStore(b)
	p := handle(b, store)
	evs := make([]ops.EventData, 1000)
	for i := range evs {
		evs[i] = ops.EventData{Type: "deposit", Data: []byte("1")}
	}
	_, err := programs.Append(p, "acct", ops.Any(), evs...)
	require.NoError(b, err)
	b.ResetTimer()
	for b.Loop() {
		if _, err := programs.Project(p, "acct", sumStep, 0); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendRetry(b *testing.B) {
	p := handle(b, newStore(b))
	ev := []ops.EventData{programs.Event("e", []byte("x"))}
	decide := func(*effect.P, uint64) ([]ops.EventData, error) { return ev, nil }
	for b.Loop() {
		if _, err := programs.AppendRetry(p, "s", 3, decide); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUpdate(b *testing.B) {
	p := handle(b, newStore(b))
	for b.Loop() {
		if _, err := programs.Update(p, "ctr", 3, increment); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPublishTwoSubscribers(b *testing.B) {
	hub := programs.NewHub()
	n := 0
	hub.Subscribe("s", func(*effect.P, ops.Event) error { n++; return nil })
	hub.Subscribe("s", func(*effect.P, ops.Event) error { n++; return nil })
	p := handle(b, newStore(b))
	ev := programs.Event("e", []byte("x"))
	for b.Loop() {
		if _, err := hub.Publish(p, "s", ops.Any(), ev); err != nil {
			b.Fatal(err)
		}
	}
}
