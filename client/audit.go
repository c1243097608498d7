package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"spool/internal/model"
)

// AuditTrail fetches up to max (≥ 1) of the access grants of buffer id, newest
// first, page after page; truncated reports that the trail holds more. Reading a
// trail takes the owner role on a server that signs callers in.
func (c *Client) AuditTrail(ctx context.Context, id string, max int) (grants []model.Grant, truncated bool, err error) {
	if err := ValidateID(id); err != nil {
		return nil, false, err
	}
	if max < 1 {
		return nil, false, fmt.Errorf("the limit must be at least 1, got %d", max)
	}
	grants = []model.Grant{}
	path, q := "/buffers/"+id+"/audit", url.Values{}
	for {
		q.Set("limit", strconv.Itoa(max+1-len(grants)))
		var page model.GrantList
		if err := c.do(ctx, call{method: http.MethodGet, path: path, query: q, bufferID: id}, &page); err != nil {
			return nil, false, fmt.Errorf("reading the audit trail: %w", err)
		}
		grants = append(grants, page.Items...)
		switch {
		case len(grants) > max:
			return grants[:max], true, nil
		case page.NextLink == "":
			return grants, false, nil
		}
		if path, q, err = c.resolveNextLink(page.NextLink); err != nil {
			return nil, false, err
		}
	}
}
