package transfer

import (
	"crypto/x509"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
)

// answer is what a storage response means to the engine. classify is the one
// place that reads status codes and x-ms-error-code values; every caller switches
// on its answer.
type answer int

const (
	answerOK        answer = iota // 2xx
	answerTransient               // 429, or a 5xx other than 501: try again later
	// answerAccessRefused: the SAS is expired, tampered with or for another
	// container (Azurite says AuthorizationFailure, Azure AuthenticationFailed).
	answerAccessRefused
	answerNoContainer // the buffer's container does not exist
	answerNoBlob      // any other 404: the blob does not exist (yet)
	// answerNotPermitted: the SAS lacks the permission. Azurite also answers
	// this to an overwrite under a create-only SAS.
	answerNotPermitted
	// answerExists: a create was refused because the blob exists (Azure's
	// create-only SAS, or If-None-Match: *).
	answerExists
	answerMD5Mismatch // the body did not match its Content-MD5 on arrival
	answerOther
)

func classify(status int, code string) answer {
	switch {
	case status >= 200 && status < 300:
		return answerOK
	case status == http.StatusTooManyRequests || (status >= 500 && status != http.StatusNotImplemented):
		return answerTransient
	case status == http.StatusForbidden && (code == "AuthenticationFailed" || code == "AuthorizationFailure"):
		return answerAccessRefused
	case status == http.StatusForbidden && code == "AuthorizationPermissionMismatch":
		return answerNotPermitted
	case status == http.StatusForbidden && code == "UnauthorizedBlobOverwrite",
		status == http.StatusConflict && code == "BlobAlreadyExists",
		status == http.StatusPreconditionFailed:
		return answerExists
	case status == http.StatusNotFound && code == "ContainerNotFound":
		return answerNoContainer
	case status == http.StatusNotFound:
		return answerNoBlob
	case status == http.StatusBadRequest && code == "Md5Mismatch":
		return answerMD5Mismatch
	}
	return answerOther
}

// retryableTransportError is false for failures no retry can mend: the server's
// certificate is not one to trust.
func retryableTransportError(err error) bool {
	var unknownAuthority x509.UnknownAuthorityError
	var invalidCert x509.CertificateInvalidError
	var hostname x509.HostnameError
	return !errors.As(err, &unknownAuthority) && !errors.As(err, &invalidCert) && !errors.As(err, &hostname)
}

// transportCause names a transport failure in a few words.
func transportCause(err error) string {
	var dnsErr *net.DNSError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, errStalled):
		return "the connection stalled"
	case errors.As(err, &dnsErr):
		return "the host name does not resolve"
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return "timed out"
	}
	return err.Error()
}

// response is a finished storage answer with its meaning pulled out; the body
// is open only for a 2xx GET.
type response struct {
	*http.Response
	code   string // x-ms-error-code
	answer answer
	// resent is set when an earlier try of this request may have reached storage
	// (it failed in transit or with a 5xx), so a PUT may have landed before.
	resent bool
}

func newResponse(resp *http.Response, resent bool) *response {
	code := resp.Header.Get("x-ms-error-code")
	return &response{Response: resp, code: code, answer: classify(resp.StatusCode, code), resent: resent}
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

func (r *response) statusError() error {
	msg, _ := io.ReadAll(r.Body)
	return &statusError{status: r.StatusCode, code: r.code, message: string(msg)}
}

// readErrorMessage drains and closes a non-GET or error body, keeping the storage
// error's <Message> so failures can say more than a status code.
func readErrorMessage(resp *http.Response) string {
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<10))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	var e struct {
		Message string `xml:"Message"`
	}
	if xml.Unmarshal(data, &e) != nil {
		return ""
	}
	msg, _, _ := strings.Cut(strings.TrimSpace(e.Message), "\n")
	return strings.TrimSpace(msg)
}
