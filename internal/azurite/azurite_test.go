package azurite

import (
	"net/http"
	"testing"
)

func TestStartServesBlobAndTableOnLoopback(t *testing.T) {
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
	s := NewShared(Options{})
	first := s.Get(t)
	if again := s.Get(t); again != first {
		t.Fatal("a second Get started another instance")
	}
	s.stop()
	if _, err := http.Get(first.TableEndpoint); err == nil {
		t.Error("the table service still answers after stop")
	}
}
