package sx

import (
	"testing"
	"time"
)

func benchEvent() *Dict {
	return NewDict(
		Keyword("id"), "0b6c6a4e-8f3c-4a52-9a57-0f4a1c3e2d11",
		Keyword("stream"), "orders-1842",
		Keyword("seq"), int64(42),
		Keyword("pos"), int64(1_048_576),
		Keyword("type"), "order-placed",
		Keyword("at"), "2025-03-04T05:06:07.123456789Z",
		Keyword("data"), `{"sku":"A-17","qty":3,"price":1299,"note":"leave at door"}`,
	)
}

func BenchmarkPrintEvent(b *testing.B) {
	ev := benchEvent()
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendPrint(buf[:0], ev)
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkReadEvent(b *testing.B) {
	text := Print(benchEvent())
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Read(text); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFromGoEvent(b *testing.B) {
	ev := testEvent{ID: testID{1, 2, 3, 4}, Stream: "orders-1842", Seq: 42, Type: "order-placed",
		At: time.Date(2025, 3, 4, 5, 6, 7, 123456789, time.UTC), Data: []byte(`{"sku":"A-17","qty":3}`)}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := FromGo(ev); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkToGoEvent(b *testing.B) {
	ev := testEvent{ID: testID{1, 2, 3, 4}, Stream: "orders-1842", Seq: 42, Type: "order-placed",
		At: time.Date(2025, 3, 4, 5, 6, 7, 123456789, time.UTC), Data: []byte(`{"sku":"A-17","qty":3}`)}
	v, err := FromGo(ev)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		var out testEvent
		if err := ToGo(v, &out); err != nil {
			b.Fatal(err)
		}
	}
}
