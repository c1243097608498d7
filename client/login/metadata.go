package login

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	// The metadata request.
	"net/http"
	"net/url"

	"spool/auth"
	"spool/internal/redact"
)

// maxMetadataBytes bounds the metadata answer, a few hundred bytes in practice.
const maxMetadataBytes = 64 << 10

// FetchMetadata reads GET {serverURL}/metadata and checks that the server signs
// callers in. client nil means http.DefaultClient.
func FetchMetadata(ctx context.Context, client *http.Client, serverURL string) (auth.Metadata, error) {
	var md auth.Metadata
	base, err := url.Parse(serverURL)
	if err != nil || (base.Scheme != "https" && base.Scheme != "http") || base.Host == "" {
		return md, fmt.Errorf("server URL %q is not an http(s) URL", redact.String(serverURL))
	}
	if client == nil {
		client = http.DefaultClient
	}
	u := *base
	u.Path = strings.TrimSuffix(base.Path, "/") + "/metadata"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return md, fmt.Errorf("building metadata request: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return md, fmt.Errorf("reading %s: %w", redact.URL(&u), redact.Error(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return md, fmt.Errorf("reading %s: %s", redact.URL(&u), resp.Status)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxMetadataBytes)).Decode(&md); err != nil {
		return md, fmt.Errorf("reading %s: not spool metadata: %w", redact.URL(&u), err)
	}
	if md.Authority == "" || md.Audience == "" {
		return md, fmt.Errorf("%s does not sign callers in (its metadata names no authority): use its function key (SPOOL_FUNCTION_KEY) instead", redact.URL(base))
	}
	return md, nil
}
