package handler

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"spool/internal/model"
	"spool/internal/reliability"
)

func TestURLLifetimeIsCappedAtTheBuffersExpiry(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { e := now.Add(d); return &e }
	for _, c := range []struct {
		name    string
		expires *time.Time
		ttl     time.Duration
		want    time.Duration
	}{
		{"no expiry", nil, time.Hour, time.Hour},
		{"expiry after the ttl", at(2 * time.Hour), time.Hour, time.Hour},
		{"expiry in 10 s", at(10 * time.Second), time.Hour, 10 * time.Second},
		{"expiry in 10.9 s: whole seconds, never past it", at(10900 * time.Millisecond), time.Hour, 10 * time.Second},
	} {
		got, err := urlLifetime(model.Buffer{ExpiresAt: c.expires}, c.ttl, now)
		if err != nil || got != c.want {
			t.Errorf("%s: %v %v, want %v", c.name, got, err, c.want)
		}
	}
	if _, err := urlLifetime(model.Buffer{ExpiresAt: at(500 * time.Millisecond)}, time.Hour, now); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("a buffer with under a second left: %v, want not found", err)
	}
}

func TestAnAccessURLOnAzuriteStopsWorkingWhenItsBufferExpires(t *testing.T) {
	f, client := liveOverPlainAzurite(t)
	expires := time.Now().Add(5 * time.Second).UTC()
	body, _ := json.Marshal(map[string]any{"expiresAt": expires})
	r := f.do(t, http.MethodPost, "/buffers", strings.NewReader(string(body)))
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	b := decode[model.Buffer](t, r)
	r = f.do(t, http.MethodPost, "/buffers/"+b.ID+"/access?writeable=true&ttl=01:00:00", nil)
	if r.status != http.StatusCreated {
		t.Fatalf("access: %d %s", r.status, r.body)
	}
	uri := decode[model.AccessURL](t, r).URI
	se, err := time.Parse(time.RFC3339, mustQuery(t, uri).Get("se"))
	if err != nil {
		t.Fatalf("the URL's se: %v", err)
	}
	if se.After(*b.ExpiresAt) || se.Before(b.ExpiresAt.Add(-2*time.Second)) {
		t.Fatalf("se %s for a buffer expiring at %s, asked for 1 h", se, b.ExpiresAt)
	}
	if err := upload(t, client, blobAt(t, uri, "0"), []byte("before")); err != nil {
		t.Fatalf("upload before the expiry: %v", err)
	}
	time.Sleep(time.Until(se) + 1500*time.Millisecond)
	wantForbidden(t, "upload after the buffer's expiry", upload(t, client, blobAt(t, uri, "1"), []byte("after")))
	reliability.Record(t, reliability.Row{
		Area:    "access",
		Fault:   "a 1 h access URL asked for a buffer that expires in 5 s",
		Tries:   1,
		Outcome: "the URL's se is at or before the buffer's expiresAt; it works before and gets 403 after",
	})
}
