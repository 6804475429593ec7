package backendtest

import (
	"rose-ash.com/persist/ops"
)

func init() {
	registerRetention("delete",
		Case{Name: "retry-after-soft-delete", Doc: "re-sending an append a soft delete hid stores it anew after the old head, and a second re-send is its retry", Run: edgeRetrySoft},
	)
}

func edgeRetrySoft(e *Env) {
	batch := []ops.EventData{idEv(1, "t", "a"), idEv(2, "t", "b")}
	mustAppend(e, "s", ops.Any(), batch...)
	_, err := deleteStream(e, "s", ops.Any(), false)
	e.NoError(err, "soft delete")
	r, err := appendTo(e, "s", ops.Any(), batch...)
	e.NoError(err, "re-send after the soft delete")
	e.Equal(uint64(3), r.FirstSeq, "stored anew at the old head+1")
	r2, err := appendTo(e, "s", ops.Any(), batch...)
	e.NoError(err, "second re-send")
	e.Equal(r, r2, "the second re-send is a retry of the new events")
	e.NoError(e.Reopen(), "reopen")
	r2, err = appendTo(e, "s", ops.Any(), batch...)
	e.NoError(err, "re-send after a reopen")
	e.Equal(r, r2, "the re-send after a reopen is a retry of the new events")
	e.Equal([]uint64{3, 4}, seqsOf(readVisible(e, "s", 1, 0)), "events read")
}
