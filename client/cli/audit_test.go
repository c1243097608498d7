package cli

import (
	"encoding/json"
	"testing"
	"time"

	"spool/client/login/logintest"
	"spool/internal/model"
)

// auditOf runs `spool buffer audit` and decodes its output.
func auditOf(t *testing.T, args ...string) []model.Grant {
	t.Helper()
	r := runCLI(t, "", append([]string{"buffer", "audit"}, args...)...)
	var grants []model.Grant
	if r.code != exitOK || r.stderr != "" || json.Unmarshal([]byte(r.stdout), &grants) != nil {
		t.Fatalf("audit %v: %+v", args, r)
	}
	return grants
}

// TestBufferAuditListsEveryGrantNewestFirst: two access URLs, then the trail shows
// both, the write one first, each naming a function-key caller; --limit cuts it.
func TestBufferAuditListsEveryGrantNewestFirst(t *testing.T) {
	t.Setenv("SPOOL_SERVER_URL", liveServer(t))
	id := createBuffer(t)
	for _, args := range [][]string{{id}, {id, "--write"}} {
		if r := runCLI(t, "", append([]string{"buffer", "access"}, args...)...); r.code != exitOK {
			t.Fatalf("access %v: %+v", args, r)
		}
	}
	grants := auditOf(t, id)
	if len(grants) != 2 || !grants[0].Writeable || grants[1].Writeable {
		t.Fatalf("trail %+v, want the write grant, then the read grant", grants)
	}
	for _, g := range grants {
		if g.BufferID != id || g.Caller.Method != model.CallerFunctionKey || !g.ExpiresAt.After(g.GrantedAt) {
			t.Errorf("grant %+v, want one of buffer %s by a function key", g, id)
		}
	}
	if got := auditOf(t, id, "--limit", "1"); len(got) != 1 || got[0].ID != grants[0].ID {
		t.Errorf("--limit 1 printed %+v, want the newest grant only", got)
	}
	if r := runCLI(t, "", "buffer", "audit", id, "--limit", "0"); r.code != exitUsage {
		t.Errorf("--limit 0: %+v, want a usage error", r)
	}
}

// TestBufferAuditNamesTheSignedInCaller: after `spool login`, the grant is recorded
// under the token's user name and object ID.
func TestBufferAuditNamesTheSignedInCaller(t *testing.T) {
	srv := startSignedInServer(t, handlerSetup{})
	az := logintest.StubAz(t, loginAudience)
	az.Answer(t, srv.token(t, time.Now().Add(time.Hour), "owner"), time.Now().Add(time.Hour))
	if r := runCLI(t, "", "login", srv.url+"/", "--azure-cli"); r.code != exitOK {
		t.Fatalf("login: %+v", r)
	}
	id := createBuffer(t)
	if r := runCLI(t, "", "buffer", "access", id); r.code != exitOK {
		t.Fatalf("access: %+v", r)
	}
	grants := auditOf(t, id)
	if len(grants) != 1 || grants[0].Caller.Method != model.CallerBearerToken ||
		grants[0].Caller.Name != "ada@example.com" || grants[0].Caller.ObjectID == "" {
		t.Errorf("trail %+v, want one grant to ada@example.com by bearer token", grants)
	}
}
