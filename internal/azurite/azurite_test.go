package azurite

import (
	"net/http"
	"testing"
	"time"
)

func TestStartServesBlobAndTableOnLoopback(t *testing.T) {
	t.Parallel()
	in, err := Start(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Stop()
	resp, err := http.Get(in.BlobEndpoint + "?comp=list")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// Anonymous listing is refused, which proves Azurite answered.
	if resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unexpected status %d", resp.StatusCode)
	}
}

func TestStartWithHTTPSWritesATrustableCertificate(t *testing.T) {
	t.Parallel()
	in, err := Start(Options{HTTPS: true})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Stop()
	if len(in.CertPEM) == 0 || in.CertFile == "" {
		t.Fatal("no certificate")
	}
}

func TestSharedStartsOnceOnFirstUseAndStopFreesItsPorts(t *testing.T) {
	t.Parallel()
	s := NewShared(Options{})
	first := s.Get(t)
	if again := s.Get(t); again != first {
		t.Fatal("a second Get started another instance")
	}
	s.stop()
	// SIGKILL lands asynchronously: allow the process a moment to go.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get(first.TableEndpoint)
		if err != nil {
			return
		}
		resp.Body.Close()
		if time.Now().After(deadline) {
			t.Fatal("the table service still answers 10 s after stop")
		}
	}
}
