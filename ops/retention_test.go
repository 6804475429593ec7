package ops_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/sx"
)

// metaView is a StreamView over one stream of head events stamped one
// second apart from t0, with IDs ids[seq-1].
type metaView struct {
	head uint64
	ids  []uuid.UUID
	st   ops.StreamState
	t0   time.Time
	now  time.Time
}

func (v *metaView) Head(string) uint64 { return v.head }
func (v *metaView) EventAt(_ string, seq uint64) (uuid.UUID, uint64, error) {
	return v.ids[seq-1], seq, nil
}
func (v *metaView) FindID(_ string, id uuid.UUID) (uint64, uint64, error) {
	for i, x := range v.ids {
		if x == id {
			return uint64(i + 1), uint64(i + 1), nil
		}
	}
	return 0, 0, nil
}
func (v *metaView) KvRevision(string) uint64                    { return 0 }
func (v *metaView) StreamState(string) (ops.StreamState, error) { return v.st, nil }
func (v *metaView) Now() time.Time                              { return v.now }
func (v *metaView) EventTime(_ string, seq uint64) (time.Time, error) {
	return v.t0.Add(time.Duration(seq) * time.Second), nil
}

func newMetaView(head int) *metaView {
	v := &metaView{head: uint64(head), t0: time.Unix(1000, 0)}
	for range head {
		v.ids = append(v.ids, uuid.New())
	}
	v.now = v.t0.Add(time.Duration(head+1) * time.Second)
	return v
}

func TestStreamStateHides(t *testing.T) {
	t0 := time.Unix(0, 0)
	st := ops.StreamState{StreamMeta: ops.StreamMeta{MaxCount: 3, TruncateBefore: 2}}
	assert.Equal(t, uint64(2), st.FirstSeq(3), "truncate-before rules when max-count hides less")
	assert.Equal(t, uint64(8), st.FirstSeq(10), "max-count keeps the last 3 of 10")
	assert.True(t, st.Hides(1, 3, t0, t0))
	assert.False(t, st.Hides(2, 3, t0, t0))
	st = ops.StreamState{StreamMeta: ops.StreamMeta{MaxAge: time.Minute}}
	assert.False(t, st.Hides(1, 1, t0, t0.Add(59*time.Second)))
	assert.True(t, st.Hides(1, 1, t0, t0.Add(time.Minute)), "an event exactly max-age old is hidden")
	assert.Equal(t, uint64(6), ops.StreamState{Tombstone: true}.FirstSeq(5))
	assert.True(t, ops.StreamState{Deleted: true, StreamMeta: ops.StreamMeta{TruncateBefore: 6}}.Absent(5))
	assert.False(t, ops.StreamState{Deleted: true, StreamMeta: ops.StreamMeta{TruncateBefore: 6}}.Absent(6), "an append after a soft delete revives the stream")
}

func TestValidateStreamMeta(t *testing.T) {
	cases := map[string]ops.StreamMeta{
		"meta.max-count":       {MaxCount: ops.MaxSeqLimit + 1},
		"meta.max-age":         {MaxAge: -time.Second},
		"meta.truncate-before": {TruncateBefore: 1 << 60},
	}
	for field, m := range cases {
		err := ops.StreamMetaWrite{Stream: "s", Meta: m}.Validate()
		var ie *ops.InvalidError
		require.ErrorAs(t, err, &ie, field)
		assert.Equal(t, field, ie.Field)
		assert.Equal(t, ops.NameStreamMetaWrite, ie.Op)
	}
	err := ops.StreamMetaWrite{Stream: "s", Meta: ops.StreamMeta{MaxAge: ops.MaxAgeLimit + 1}}.Validate()
	assert.ErrorIs(t, err, ops.ErrInvalid)
	require.NoError(t, ops.StreamMetaWrite{Stream: "s", Meta: ops.StreamMeta{MaxCount: ops.MaxSeqLimit, MaxAge: ops.MaxAgeLimit}}.Validate())
	assert.ErrorIs(t, ops.SnapshotWrite{Snapshot: ops.Snapshot{Name: "n"}, Keep: -1}.Validate(), ops.ErrInvalid)
	assert.ErrorIs(t, ops.SnapshotWrite{Snapshot: ops.Snapshot{Name: "n"}, Keep: ops.MaxSnapshotGenerations + 1}.Validate(), ops.ErrInvalid)
	assert.ErrorIs(t, ops.KvHistory{Key: "k", Limit: -1}.Validate(), ops.ErrInvalid)
	assert.ErrorIs(t, ops.KvWatch{Limit: ops.MaxPage + 1}.Validate(), ops.ErrInvalid)
	assert.ErrorIs(t, ops.KvWait{Timeout: -1}.Validate(), ops.ErrInvalid)
	assert.ErrorIs(t, ops.ValidateKvHistory(0), ops.ErrInvalid)
	assert.NoError(t, ops.ValidateKvHistory(1))
}

func TestCheckMetaTruncateBeyondHead(t *testing.T) {
	v := newMetaView(5)
	_, err := ops.CheckMeta(ops.StreamMetaWrite{Stream: "s", Meta: ops.StreamMeta{TruncateBefore: 7}}, v)
	var ie *ops.InvalidError
	require.ErrorAs(t, err, &ie)
	assert.Equal(t, "meta.truncate-before", ie.Field)
	assert.Contains(t, ie.Reason, "head 5")
	plan, err := ops.CheckMeta(ops.StreamMetaWrite{Stream: "s", Expect: ops.Exact(5), Meta: ops.StreamMeta{TruncateBefore: 6}}, v)
	require.NoError(t, err)
	assert.Equal(t, ops.StreamMetaResult{Stream: "s", Head: 5, StreamState: ops.StreamState{StreamMeta: ops.StreamMeta{TruncateBefore: 6}}}, plan.Result())
	_, err = ops.CheckMeta(ops.StreamMetaWrite{Stream: "s", Expect: ops.Exact(4)}, v)
	assert.ErrorIs(t, err, ops.ErrConflict)
}

func TestCheckSoftDeleteThenAppend(t *testing.T) {
	v := newMetaView(3)
	plan, err := ops.CheckDelete(ops.StreamDelete{Stream: "s", Expect: ops.Exact(3)}, v)
	require.NoError(t, err)
	assert.Equal(t, ops.StreamState{Deleted: true, StreamMeta: ops.StreamMeta{TruncateBefore: 4}}, plan.State)
	v.st = plan.State
	ap, err := ops.CheckAppend(ops.Append{Stream: "s", Expect: ops.NoStream(), Events: []ops.EventData{{Type: "t"}}}, v)
	require.NoError(t, err, "NoStream holds on a soft-deleted stream")
	assert.Equal(t, uint64(4), ap.Result.FirstSeq, "numbering continues")
	_, err = ops.CheckAppend(ops.Append{Stream: "s", Expect: ops.Exists(), Events: []ops.EventData{{Type: "t"}}}, v)
	assert.ErrorIs(t, err, ops.ErrConflict, "Exists fails on a soft-deleted stream")
	// A hidden event's ID is free again.
	ap, err = ops.CheckAppend(ops.Append{Stream: "s", Expect: ops.Exact(3), Events: []ops.EventData{{ID: v.ids[0], Type: "t"}}}, v)
	require.NoError(t, err)
	assert.False(t, ap.Retry)
}

func TestCheckHardDeleteRefusesWrites(t *testing.T) {
	v := newMetaView(2)
	plan, err := ops.CheckDelete(ops.StreamDelete{Stream: "s", Hard: true}, v)
	require.NoError(t, err)
	v.st = plan.State
	var de *ops.StreamDeletedError
	_, err = ops.CheckAppend(ops.Append{Stream: "s", Events: []ops.EventData{{Type: "t"}}}, v)
	require.ErrorAs(t, err, &de)
	assert.Equal(t, "s", de.Stream)
	_, err = ops.Check(ops.Commit{Appends: []ops.Append{{Stream: "s", Events: []ops.EventData{{Type: "t"}}}}}, v)
	assert.ErrorIs(t, err, ops.ErrStreamDeleted)
	_, err = ops.CheckMeta(ops.StreamMetaWrite{Stream: "s"}, v)
	assert.ErrorIs(t, err, ops.ErrStreamDeleted)
	_, err = ops.CheckDelete(ops.StreamDelete{Stream: "s"}, v)
	assert.True(t, errors.Is(err, ops.ErrStreamDeleted))
}

func TestCheckRetryOnlyWhileVisible(t *testing.T) {
	v := newMetaView(4)
	retry := ops.Append{Stream: "s", Expect: ops.Exact(1), Events: []ops.EventData{{ID: v.ids[1], Type: "t"}, {ID: v.ids[2], Type: "t"}}}
	ap, err := ops.CheckAppend(retry, v)
	require.NoError(t, err)
	assert.True(t, ap.Retry)
	v.st = ops.StreamState{StreamMeta: ops.StreamMeta{MaxAge: 3 * time.Second}} // now = t0+5s: seqs 1, 2 are hidden
	_, err = ops.CheckAppend(retry, v)
	assert.ErrorIs(t, err, ops.ErrDuplicateID, "a batch whose first event is hidden is no retry: its visible part is a reuse")
}

// The new operations and answers print in SX by their names, fields in
// kebab case, the zero-valued optional ones left out.
func TestRetentionSXForms(t *testing.T) {
	cases := []struct {
		op   effect.Effect
		want string
	}{
		{ops.StreamMetaWrite{Stream: "s", Expect: ops.Exact(3), Meta: ops.StreamMeta{MaxCount: 5, MaxAge: time.Second}},
			`(persist/stream-meta-write {:expect "3" :meta {:max-age 1000000000 :max-count 5 :truncate-before 0} :stream "s"})`},
		{ops.StreamDelete{Stream: "s", Hard: true}, `(persist/stream-delete {:expect "any" :hard true :stream "s"})`},
		{ops.StreamDelete{Stream: "s"}, `(persist/stream-delete {:expect "any" :stream "s"})`},
		{ops.KvWatch{Prefix: "p/", From: 4}, `(persist/kv-watch {:from 4 :limit 0 :prefix "p/"})`},
		{ops.KvWait{After: 2}, `(persist/kv-wait {:after 2 :timeout 0})`},
		{ops.SnapshotRead{Name: "n"}, `(persist/snapshot-read {:name "n"})`},
		{ops.SnapshotRead{Name: "n", Generation: 2}, `(persist/snapshot-read {:generation 2 :name "n"})`},
		{ops.Stat{}, `(persist/stat)`},
	}
	for _, c := range cases {
		v, err := sx.FromGoForm(c.op.EffectName(), c.op)
		require.NoError(t, err)
		assert.Equal(t, c.want, sx.Print(v))
	}
	v, err := sx.FromGo(ops.StreamMetaResult{Stream: "s", Head: 2, StreamState: ops.StreamState{Deleted: true, StreamMeta: ops.StreamMeta{TruncateBefore: 3}}})
	require.NoError(t, err)
	assert.Equal(t, `{:deleted true :head 2 :max-age 0 :max-count 0 :stream "s" :tombstone false :truncate-before 3}`, sx.Print(v), "the state's fields are lifted into the answer")
	v, err = sx.FromGo(ops.KvVersion{Key: "k", Revision: 3, Deleted: true})
	require.NoError(t, err)
	assert.Equal(t, `{:deleted true :key "k" :revision 3}`, sx.Print(v))
}
