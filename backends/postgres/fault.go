package postgres

import "errors"

// Fault is what a commit fault injector (WithCommitFault) makes of one
// commit transaction.
type Fault int

const (
	// FaultNone lets the commit run as usual.
	FaultNone Fault = iota
	// FaultLostAfterCommit commits, then acts as if the connection was
	// lost before COMMIT's answer came back.
	FaultLostAfterCommit
	// FaultLostBeforeCommit acts as if the connection was lost with COMMIT
	// sent but not received: nothing is stored.
	FaultLostBeforeCommit
)

var errFaultLost = errors.New("connection lost (injected fault)")

// WithCommitFault calls f before each COMMIT the store would send and
// injects the fault it answers: for testing how callers and the store
// itself deal with commits whose outcome is unknown.
func WithCommitFault(f func() Fault) Option { return func(o *options) { o.commitFault = f } }
