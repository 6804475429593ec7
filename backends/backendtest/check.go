package backendtest

import (
	"errors"
	"fmt"

	"github.com/stretchr/testify/assert"

	"rose-ash.com/persist/ops"
)

// The check methods record a failure (with the location of the case code
// that made the check) and report whether the check held; none of them ends
// the case. what names the checked thing in the failure message.

// Equal checks that got equals want (as testify's ObjectsAreEqual decides).
func (e *Env) Equal(want, got any, what string, args ...any) bool {
	if assert.ObjectsAreEqual(want, got) {
		return true
	}
	e.Errorf("%s: want %s, got %s", fmt.Sprintf(what, args...), show(want), show(got))
	return false
}

// True checks that cond holds.
func (e *Env) True(cond bool, what string, args ...any) bool {
	if !cond {
		e.Errorf("%s", fmt.Sprintf(what, args...))
	}
	return cond
}

// NoError checks that err is nil.
func (e *Env) NoError(err error, what string, args ...any) bool {
	if err != nil {
		e.Errorf("%s: unexpected error: %v", fmt.Sprintf(what, args...), err)
		return false
	}
	return true
}

// ErrorIs checks that errors.Is(err, target).
func (e *Env) ErrorIs(err, target error, what string, args ...any) bool {
	if !errors.Is(err, target) {
		e.Errorf("%s: want an error matching %q, got %v", fmt.Sprintf(what, args...), target, err)
		return false
	}
	return true
}

// Conflict checks that err is a *ops.Conflict equal to want, matching
// ops.ErrConflict.
func (e *Env) Conflict(err error, want ops.Conflict, what string, args ...any) bool {
	label := fmt.Sprintf(what, args...)
	var c *ops.Conflict
	if !errors.As(err, &c) {
		e.Errorf("%s: want a *ops.Conflict %s, got %v", label, show(want), errString(err))
		return false
	}
	ok := e.ErrorIs(err, ops.ErrConflict, "%s", label)
	return e.Equal(want, *c, "%s: conflict", label) && ok
}

// DuplicateID checks that err is an *ops.DuplicateIDError equal to want and
// matching ops.ErrDuplicateID.
func (e *Env) DuplicateID(err error, want ops.DuplicateIDError, what string, args ...any) bool {
	label := fmt.Sprintf(what, args...)
	var d *ops.DuplicateIDError
	if !errors.As(err, &d) {
		e.Errorf("%s: want a *ops.DuplicateIDError %s, got %v", label, show(want), errString(err))
		return false
	}
	ok := e.ErrorIs(err, ops.ErrDuplicateID, "%s", label)
	return e.Equal(want, *d, "%s: duplicate ID", label) && ok
}

// Invalid checks that err is an *ops.InvalidError naming field and matching
// ops.ErrInvalid.
func (e *Env) Invalid(err error, field, what string, args ...any) bool {
	label := fmt.Sprintf(what, args...)
	var ie *ops.InvalidError
	if !errors.As(err, &ie) {
		e.Errorf("%s: want an *ops.InvalidError naming %q, got %v", label, field, errString(err))
		return false
	}
	ok := e.ErrorIs(err, ops.ErrInvalid, "%s", label)
	return e.Equal(field, ie.Field, "%s: InvalidError.Field", label) && ok
}

// StreamDeleted checks that err is an *ops.StreamDeletedError naming
// stream and matching ops.ErrStreamDeleted.
func (e *Env) StreamDeleted(err error, stream, what string, args ...any) bool {
	label := fmt.Sprintf(what, args...)
	var d *ops.StreamDeletedError
	if !errors.As(err, &d) {
		e.Errorf("%s: want an *ops.StreamDeletedError naming %q, got %v", label, stream, errString(err))
		return false
	}
	ok := e.ErrorIs(err, ops.ErrStreamDeleted, "%s", label)
	return e.Equal(stream, d.Stream, "%s: StreamDeletedError.Stream", label) && ok
}

// Compacted checks that err is an *ops.CompactedError equal to want and
// matching ops.ErrCompacted.
func (e *Env) Compacted(err error, want ops.CompactedError, what string, args ...any) bool {
	label := fmt.Sprintf(what, args...)
	var c *ops.CompactedError
	if !errors.As(err, &c) {
		e.Errorf("%s: want an *ops.CompactedError %s, got %v", label, show(want), errString(err))
		return false
	}
	ok := e.ErrorIs(err, ops.ErrCompacted, "%s", label)
	return e.Equal(want, *c, "%s: compacted", label) && ok
}

func errString(err error) string {
	if err == nil {
		return "no error"
	}
	return fmt.Sprintf("%T %q", err, err.Error())
}

// show prints a value for a failure message.
func show(v any) string {
	switch v := v.(type) {
	case []byte:
		if v == nil {
			return "[]byte(nil)"
		}
		return fmt.Sprintf("%q", v)
	case string:
		return fmt.Sprintf("%q", v)
	}
	return fmt.Sprintf("%+v", v)
}
