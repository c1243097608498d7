package auth

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"spool/internal/oidctest"
)

func TestKeysAreFetchedOnceForManyRequests(t *testing.T) {
	f := newFixture(t)
	tok := f.token(t, "reader")
	const requests = 40
	var wg sync.WaitGroup
	codes := make([]int, requests)
	for i := range requests {
		wg.Go(func() { codes[i] = f.bearer("/p/"+string(ReadBuffers), tok).Code })
	}
	wg.Wait()
	for i, c := range codes {
		if c != http.StatusOK {
			t.Fatalf("request %d: %d", i, c)
		}
	}
	if got := f.iss.JWKSFetches(); got != 1 {
		t.Errorf("%d JWKS fetches for %d requests, want 1", got, requests)
	}
	if got := f.iss.DiscoveryFetches(); got != 1 {
		t.Errorf("%d discovery fetches, want 1", got)
	}
}

func TestUnknownKeyIDsRefetchAtMostOncePerRefreshInterval(t *testing.T) {
	f := newFixture(t)
	if rec := f.bearer("/p/"+string(ReadBuffers), f.token(t, "reader")); rec.Code != http.StatusOK {
		t.Fatalf("valid token: %d", rec.Code)
	}
	const attempts = 25
	for i := range attempts {
		tok := f.iss.SignedToken(t, f.iss.Claims(testAudience, "owner"), oidctest.Signing{KeyID: fmt.Sprintf("random-%d", i)})
		if rec := f.bearer("/p/"+string(ReadBuffers), tok); rec.Code != http.StatusUnauthorized {
			t.Fatalf("unknown kid %d: %d, want 401", i, rec.Code)
		}
		// The first random kid is within the interval of the first fetch too.
		if got := f.iss.JWKSFetches(); got != 1 {
			t.Fatalf("after %d unknown kids: %d JWKS fetches, want 1", i+1, got)
		}
	}
	f.clock.Advance(DefaultKeyRefreshInterval + time.Second)
	for i := range attempts {
		tok := f.iss.SignedToken(t, f.iss.Claims(testAudience, "owner"), oidctest.Signing{KeyID: fmt.Sprintf("later-%d", i)})
		if rec := f.bearer("/p/"+string(ReadBuffers), tok); rec.Code != http.StatusUnauthorized {
			t.Fatalf("unknown kid: %d, want 401", rec.Code)
		}
	}
	if got := f.iss.JWKSFetches(); got != 2 {
		t.Errorf("after the interval: %d JWKS fetches, want exactly one refetch (2)", got)
	}
	recordAccessFault(t, "tokens with random unknown kid values, to make the server hammer the issuer's JWKS endpoint",
		2*attempts, "all 401; one JWKS refetch per refresh interval (5 min), not one per token")
}

func TestRotatedKeysAreFetchedAndOldOnesDropped(t *testing.T) {
	f := newFixture(t)
	old := f.token(t, "reader")
	if rec := f.bearer("/p/"+string(ReadBuffers), old); rec.Code != http.StatusOK {
		t.Fatalf("before rotation: %d", rec.Code)
	}
	if err := f.iss.Rotate(false); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(DefaultKeyRefreshInterval + time.Second)
	rotated := f.token(t, "reader")
	if rec := f.bearer("/p/"+string(ReadBuffers), rotated); rec.Code != http.StatusOK {
		t.Fatalf("token of the new key: %d %s", rec.Code, rec.Body)
	}
	if got := f.iss.JWKSFetches(); got != 2 {
		t.Errorf("%d JWKS fetches, want 2 (one refetch for the new kid)", got)
	}
	if rec := f.bearer("/p/"+string(ReadBuffers), old); rec.Code != http.StatusUnauthorized {
		t.Errorf("token of the withdrawn key: %d, want 401", rec.Code)
	}
}

func TestKeysKeptThroughARolloverStillVerify(t *testing.T) {
	f := newFixture(t)
	old := f.token(t, "reader")
	if err := f.iss.Rotate(true); err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{old, f.token(t, "reader"), old} {
		if rec := f.bearer("/p/"+string(ReadBuffers), tok); rec.Code != http.StatusOK {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
	if got := f.iss.JWKSFetches(); got != 1 {
		t.Errorf("%d JWKS fetches, want 1: both keys were published at the first fetch", got)
	}
}

func TestDiscoveryIsLazyAndRetriedAfterTheIssuerComesUp(t *testing.T) {
	f := newFixture(t)
	f.iss.SetDown(true)
	tok := f.token(t, "reader")
	rec := f.bearer("/p/"+string(ReadBuffers), tok)
	if rec.Code != http.StatusServiceUnavailable || errorCode(t, rec) != "ServiceUnavailable" || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("issuer down: %d %s, want 503 with Retry-After", rec.Code, rec.Body)
	}
	f.iss.SetDown(false)
	if rec := f.bearer("/p/"+string(ReadBuffers), tok); rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("within the retry interval: %d, want 503 without asking the issuer", rec.Code)
	}
	if got := f.iss.DiscoveryFetches(); got != 0 {
		t.Fatalf("%d discovery fetches within the retry interval, want 0", got)
	}
	f.clock.Advance(DefaultDiscoveryRetry + time.Second)
	if rec := f.bearer("/p/"+string(ReadBuffers), tok); rec.Code != http.StatusOK {
		t.Fatalf("after the retry interval: %d %s", rec.Code, rec.Body)
	}
	if rec := f.do("/p/" + string(ReadBuffers)); rec.Code != http.StatusUnauthorized {
		t.Errorf("no token once discovered: %d, want 401", rec.Code)
	}
	recordAccessFault(t, "token issuer unreachable when the first signed-in request arrives",
		3, "503 JSON with Retry-After (never 401 or 500); discovery retried at most every 10 s; tokens verify once it answers")
}

func TestJWKSOutageWithUnknownKeyIs503(t *testing.T) {
	f := newFixture(t)
	if rec := f.bearer("/p/"+string(ReadBuffers), f.token(t, "reader")); rec.Code != http.StatusOK {
		t.Fatalf("valid token: %d", rec.Code)
	}
	if err := f.iss.Rotate(false); err != nil {
		t.Fatal(err)
	}
	f.iss.SetDown(true)
	f.clock.Advance(DefaultKeyRefreshInterval + time.Second)
	rotated := f.token(t, "reader")
	if rec := f.bearer("/p/"+string(ReadBuffers), rotated); rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("new kid while the JWKS endpoint is down: %d %s, want 503", rec.Code, rec.Body)
	}
	asked := f.iss.Requests()
	for i := range 10 {
		tok := f.iss.SignedToken(t, f.iss.Claims(testAudience, "owner"), oidctest.Signing{KeyID: fmt.Sprintf("random-%d", i)})
		if rec := f.bearer("/p/"+string(ReadBuffers), tok); rec.Code != http.StatusServiceUnavailable {
			t.Fatalf("unknown kid during the outage: %d, want 503", rec.Code)
		}
	}
	if got := f.iss.Requests() - asked; got != 0 {
		t.Errorf("%d requests reached the failing issuer within the retry interval, want 0", got)
	}
	f.iss.SetDown(false)
	f.clock.Advance(DefaultDiscoveryRetry + time.Second)
	if rec := f.bearer("/p/"+string(ReadBuffers), rotated); rec.Code != http.StatusOK {
		t.Fatalf("after the outage: %d %s", rec.Code, rec.Body)
	}
	recordAccessFault(t, "JWKS endpoint down while tokens with new and random kid values arrive",
		12, "503 with Retry-After; no request reaches the issuer within 10 s of a failure; new key verifies once it answers")
}

func TestKeysPublishedOverPlainHTTPToARemoteHostAreRefused(t *testing.T) {
	f := newFixture(t)
	f.iss.SetJWKSURI("http://keys.example.com/keys")
	rec := f.bearer("/p/"+string(ReadBuffers), f.token(t, "reader"))
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("%d %s, want 503: the issuer's configuration is unusable", rec.Code, rec.Body)
	}
}
