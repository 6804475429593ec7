package main

import (
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
)

// Progress of the commands that can run long (crashtest, verify, dump) is a
// live line drawn by github.com/schollz/progressbar on Main.Progress, which
// the command sets only when stderr is a terminal: a spinner with the count
// done, the rate and the time so far, drawn at once and redrawn ten times a
// second even while the count stands still, and erased when the command
// ends. Nowhere else is anything drawn.

// progress is one progress line; a nil *progress draws nothing.
type progress struct {
	bar  *progressbar.ProgressBar
	once sync.Once
}

// newProgress starts a progress line that counts units (such as "cases"),
// or nil when the command has nowhere to draw it.
func (m *Main) newProgress(desc, units string) *progress {
	if m.Progress == nil {
		return nil
	}
	opts := []progressbar.Option{
		progressbar.OptionSetWriter(m.Progress),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionSpinnerType(14),
		progressbar.OptionThrottle(100 * time.Millisecond),
		progressbar.OptionSetRenderBlankState(true),
		progressbar.OptionClearOnFinish(),
	}
	if units != "" {
		opts = append(opts, progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString(units))
	}
	return &progress{bar: progressbar.NewOptions64(-1, opts...)}
}

// add counts n more units done.
func (p *progress) add(n int) {
	if p != nil {
		_ = p.bar.Add(n) // drawing to a terminal; nothing to do about a failure
	}
}

// describe changes the line's description.
func (p *progress) describe(desc string) {
	if p != nil {
		p.bar.Describe(desc)
	}
}

// clear erases the line for a moment, so that other output can be printed.
func (p *progress) clear() {
	if p != nil {
		_ = p.bar.Clear()
	}
}

// done erases the line and stops redrawing it.
func (p *progress) done() {
	if p != nil {
		p.once.Do(func() {
			_ = p.bar.Finish()
			_ = p.bar.Exit()
		})
	}
}
