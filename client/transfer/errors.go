package transfer

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
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

// ErrAnotherWriter is what the loser of two writers racing for one buffer gets:
// the other created .bufferstart first. It matches errors.Is(err, ErrBufferHasData).
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

// statusError is a storage answer the engine has no specific handling for.
type statusError struct {
	status  int
	code    string // x-ms-error-code
	message string // first line of the XML <Message>, if any
}

func (e *statusError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "storage answered %d", e.status)
	if e.code != "" {
		fmt.Fprintf(&b, " %s", e.code)
	}
	if e.message != "" {
		fmt.Fprintf(&b, ": %s", e.message)
	}
	return b.String()
}

// safeQueryKeys are SAS fields that carry no secret and help a person debug a URL.
var safeQueryKeys = map[string]bool{
	"sv": true, "sr": true, "sp": true, "st": true, "se": true, "spr": true, "api-version": true,
}

// redactURL renders u with every query value that could grant access replaced, so
// the string can go into errors and logs.
func redactURL(u *url.URL) string {
	if u == nil {
		return ""
	}
	c := *u
	c.User = nil
	q := c.Query()
	for k, vs := range q {
		if safeQueryKeys[strings.ToLower(k)] {
			continue
		}
		for i := range vs {
			vs[i] = "REDACTED"
		}
	}
	c.RawQuery = q.Encode()
	return c.String()
}

// redactError strips the request URL's query out of transport errors, which quote
// the URL verbatim.
func redactError(err error, u *url.URL) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s %s: %w", ue.Op, redactURL(u), ue.Err)
	}
	return err
}
