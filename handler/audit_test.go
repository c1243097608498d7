package handler

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"spool/auth"
	"spool/internal/memstore"
	"spool/internal/model"
	"spool/internal/reliability"
)

// trail reads a buffer's whole audit trail through the API, page by page.
func trail(t *testing.T, call func(method, path, body string) answer, id string, limit string) []model.Grant {
	t.Helper()
	var all []model.Grant
	for path := "/buffers/" + id + "/audit?limit=" + limit; path != ""; {
		a := call(http.MethodGet, path, "")
		var list model.GrantList
		if a.status != http.StatusOK || json.Unmarshal(a.body, &list) != nil {
			t.Fatalf("GET %s: %v", path, a)
		}
		all = append(all, list.Items...)
		path = strings.TrimPrefix(list.NextLink, "/api")
	}
	return all
}

// grantAccess asks for an access URL and fails t unless one comes back.
func grantAccess(t *testing.T, call func(method, path, body string) answer, id string, writeable bool) {
	t.Helper()
	path := "/buffers/" + id + "/access?ttl=0.00:10:00"
	if writeable {
		path += "&writeable=true"
	}
	if a := call(http.MethodPost, path, ""); a.status != http.StatusCreated {
		t.Fatalf("POST %s: %v", path, a)
	}
}

// TestTheAuditTrailNamesEachGrantsCallerNewestFirst: readers and contributors get
// URLs; the owner reads back every grant, newest first over several pages, with the
// token's object ID, app ID and user name, read or write, and its expiry.
func TestTheAuditTrailNamesEachGrantsCallerNewestFirst(t *testing.T) {
	f := newAuthFixture(t)
	b := f.seed(t, f.token(t, auth.RoleOwner), "audit", false)
	reader := f.iss.Claims(signInAudience, auth.RoleReader)
	reader["oid"], reader["preferred_username"] = "0000000a-0000-0000-0000-00000000000r", "rita@contoso.example"
	writer := f.iss.Claims(signInAudience, auth.RoleContributor)
	writer["oid"], writer["azp"] = "0000000a-0000-0000-0000-00000000000w", "0000000a-0000-0000-0000-0000000000a9"
	as := func(claims map[string]any) func(method, path, body string) answer {
		tok := f.iss.Token(t, claims)
		return func(method, path, body string) answer { return f.call(method, path, body, tok) }
	}
	start := time.Now()
	grantAccess(t, as(reader), b.ID, false)
	grantAccess(t, as(writer), b.ID, true)
	grantAccess(t, as(reader), b.ID, false)
	got := trail(t, as(f.iss.Claims(signInAudience, auth.RoleOwner)), b.ID, "2")
	if len(got) != 3 {
		t.Fatalf("the trail holds %d grants, want 3: %+v", len(got), got)
	}
	want := []struct {
		oid       string
		writeable bool
	}{{reader["oid"].(string), false}, {writer["oid"].(string), true}, {reader["oid"].(string), false}}
	for i, g := range got {
		if g.Caller.Method != model.CallerBearerToken || g.Caller.ObjectID != want[i].oid || g.Writeable != want[i].writeable || g.BufferID != b.ID {
			t.Errorf("grant %d is %+v, want object ID %s, writeable %v", i, g, want[i].oid, want[i].writeable)
		}
		if d := g.ExpiresAt.Sub(g.GrantedAt); d != 10*time.Minute {
			t.Errorf("grant %d lasts %s, want the 10m asked for", i, d)
		}
		if g.GrantedAt.Before(start.Add(-time.Minute)) || (i > 0 && g.GrantedAt.After(got[i-1].GrantedAt)) {
			t.Errorf("grant %d granted at %s: not newest first", i, g.GrantedAt)
		}
	}
	if got[0].Caller.Name != "rita@contoso.example" || got[1].Caller.AppID != writer["azp"] {
		t.Errorf("callers are %+v and %+v, want the reader's name and the writer's app ID", got[0].Caller, got[1].Caller)
	}
}

// TestInKeyModeTheAuditTrailSaysFunctionKey: without sign-in the only thing known
// about a caller is that the host checked its function key.
func TestInKeyModeTheAuditTrailSaysFunctionKey(t *testing.T) {
	f, _ := liveFixture(t, plainAzurite.get(t).ConnectionString(), uniquePrefix(), nil)
	call := func(method, path, body string) answer { return f.try(method, path, body) }
	a := call(http.MethodPost, "/buffers", "{}")
	b, err := a.buffer()
	if err != nil || a.status != http.StatusCreated {
		t.Fatalf("create: %v", a)
	}
	grantAccess(t, call, b.ID, true)
	grantAccess(t, call, b.ID, false)
	got := trail(t, call, b.ID, "20")
	if len(got) != 2 || got[0].Writeable || !got[1].Writeable {
		t.Fatalf("trail %+v, want the read grant then the write grant", got)
	}
	for _, g := range got {
		if g.Caller != (model.Caller{Method: model.CallerFunctionKey}) {
			t.Errorf("caller %+v, want just %q", g.Caller, model.CallerFunctionKey)
		}
	}
	if a := call(http.MethodGet, "/buffers/"+newID()+"/audit", ""); a.status != http.StatusNotFound {
		t.Errorf("audit of a buffer that never existed: %v, want 404", a)
	}
}

// TestAGrantThatCannotBeRecordedIsNotGranted: when the audit trail refuses the
// entry, the answer is 503 and carries no URL.
func TestAGrantThatCannotBeRecordedIsNotGranted(t *testing.T) {
	store := memstore.New(memstore.Options{Fault: func(op string) error {
		if op == "RecordGrant" {
			return errors.New("audit table unreachable")
		}
		return nil
	}})
	f := &apiFixture{}
	f.serve(t, Options{Store: store, Containers: newFakeContainers()})
	a := f.try(http.MethodPost, "/buffers", "{}")
	b, err := a.buffer()
	if err != nil {
		t.Fatalf("create: %v", a)
	}
	tries := 0
	for _, q := range []string{"", "?writeable=true"} {
		a := f.try(http.MethodPost, "/buffers/"+b.ID+"/access"+q, "")
		tries++
		if a.status != http.StatusServiceUnavailable || strings.Contains(string(a.body), "http") || a.header.Get("Retry-After") == "" {
			t.Errorf("access%s with the audit trail down: %v, want 503 with Retry-After and no URL", q, a)
		}
	}
	reliability.Record(t, reliability.Row{
		Area:    "access",
		Fault:   "the audit trail cannot record an access grant",
		Tries:   tries,
		Outcome: "503 with Retry-After, no access URL handed out",
	})
}

// TestMetadataTellsTygersCLIHowToSignIn: Tyger's field names, the authority derived
// from the issuer, the audience, the CLI's app ID and rbacEnabled.
func TestMetadataTellsTygersCLIHowToSignIn(t *testing.T) {
	f := newAuthFixture(t)
	a := f.call(http.MethodGet, "/metadata", "", "")
	var got map[string]any
	if a.status != http.StatusOK || json.Unmarshal(a.body, &got) != nil {
		t.Fatalf("metadata: %v", a)
	}
	want := map[string]any{
		"authority":    f.iss.URL,
		"audience":     signInAudience,
		"serverAppUri": signInAudience,
		"cliAppId":     f.opts.Auth.CLIAppID,
		"rbacEnabled":  true,
		"apiVersions":  []any{"1.0"},
	}
	for k, v := range want {
		if gb, _ := json.Marshal(got[k]); string(gb) != mustJSON(v) {
			t.Errorf("metadata %s = %s, want %s", k, gb, mustJSON(v))
		}
	}
	if len(got) != len(want) {
		t.Errorf("metadata holds %v, want exactly the fields %v", got, want)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestTygerShapedTokensAreAccepted: Entra's v1 access token (appid, upn, the bare
// app ID as audience) and v2 one (azp, preferred_username) with Tyger's role values
// both work, and the audit trail names their callers.
func TestTygerShapedTokensAreAccepted(t *testing.T) {
	f := newAuthFixture(t)
	v1 := f.iss.Claims(signInAppID, auth.RoleOwner)
	delete(v1, "azp")
	v1["ver"], v1["appid"], v1["upn"] = "1.0", "0000000a-0000-0000-0000-0000000000v1", "vera@contoso.example"
	v2 := f.iss.Claims(signInAppID, auth.RoleContributor)
	v2["preferred_username"] = "val@contoso.example"
	owner, contributor := f.iss.Token(t, v1), f.iss.Token(t, v2)
	b := f.seed(t, contributor, "tyger", false)
	grantAccess(t, func(m, p, body string) answer { return f.call(m, p, body, contributor) }, b.ID, true)
	got := trail(t, func(m, p, body string) answer { return f.call(m, p, body, owner) }, b.ID, "10")
	if len(got) != 1 || got[0].Caller.Name != "val@contoso.example" || got[0].Caller.AppID != v2["azp"] {
		t.Errorf("trail %+v, want the v2 caller's name and app ID", got)
	}
	if a := f.call(http.MethodDelete, "/buffers/"+b.ID, "", owner); a.status != http.StatusOK {
		t.Errorf("delete with a v1 owner token: %v", a)
	}
	if a := f.call(http.MethodDelete, "/buffers?tag[case]=tyger", "", contributor); a.status != http.StatusForbidden {
		t.Errorf("bulk delete with a v2 contributor token: %v, want 403", a)
	}
}
