package transfer

import (
	"errors"
	"fmt"
)

// Errors a caller may want to tell apart. Each reads as a sentence for a person.
var (
	ErrBufferNotFound  = errors.New("the buffer does not exist")
	ErrBufferFailed    = errors.New("the buffer is in a permanently failed state")
	ErrBufferHasData   = errors.New("buffer cannot be overwritten: it already has data")
	ErrWriteNotAllowed = errors.New("the access URL does not allow writing")
	ErrReadNotAllowed  = errors.New("the access URL does not allow reading")
	ErrBufferCorrupt   = errors.New("the buffer is corrupt")
)

// ErrAnotherWriter is what a writer gets when another one created the buffer's
// .bufferstart first: the loser of two writers racing for one buffer, or a
// second write of a buffer written before (it cannot tell which: the winner may
// have finished before the loser looked). It matches errors.Is(err,
// ErrBufferHasData).
var ErrAnotherWriter error = anotherWriterError{}

type anotherWriterError struct{}

func (anotherWriterError) Error() string {
	return "buffer cannot be overwritten: another writer owns this buffer"
}
func (anotherWriterError) Is(target error) bool { return target == ErrBufferHasData }

// corruptionError describes what exactly is wrong with a stored buffer while still
// matching errors.Is(err, ErrBufferCorrupt).
type corruptionError struct {
	msg string
	// suspect marks damage a download may have suffered in transit (a header or
	// bytes lost), worth fetching again before calling the buffer corrupt.
	suspect bool
}

func (e *corruptionError) Error() string        { return e.msg }
func (e *corruptionError) Is(target error) bool { return target == ErrBufferCorrupt }

func corruptf(format string, args ...any) error {
	return &corruptionError{msg: fmt.Sprintf(format, args...)}
}

func suspectf(format string, args ...any) error {
	return &corruptionError{msg: fmt.Sprintf(format, args...), suspect: true}
}
