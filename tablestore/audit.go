package tablestore

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"spool/internal/model"
)

// The audit table holds one entity per access-URL grant: partition the escaped
// buffer ID, row key the grant's place newest first (orderRowKey of grantedAt and
// grant ID), and the grant itself as JSON in one property. Entries are never
// changed, and a purge leaves them: the trail outlives the buffer.

// grantRowKeyPattern is what orderRowKey makes; a continuation is one such key.
var grantRowKeyPattern = regexp.MustCompile(`^[0-9]{19}[0-9a-f]*~$`)

// RecordGrant stores g in the audit table. An upsert, so that the SDK's retry of a
// write whose answer was lost is no error.
func (s *Store) RecordGrant(ctx context.Context, g model.Grant) error {
	if g.BufferID == "" || len(g.BufferID) > maxIDBytes || g.ID == "" || len(g.ID) > maxIDBytes {
		return fmt.Errorf("recording a grant: buffer ID and grant ID of 1-%d bytes are required", maxIDBytes)
	}
	g.GrantedAt, g.ExpiresAt = g.GrantedAt.UTC(), g.ExpiresAt.UTC()
	text, err := json.Marshal(g)
	if err != nil {
		return fmt.Errorf("encoding grant: %w", err)
	}
	entity, err := json.Marshal(map[string]string{
		"PartitionKey": escapeKey(g.BufferID),
		"RowKey":       orderRowKey(g.GrantedAt, g.ID),
		"Grant":        string(asciiJSON(text)),
	})
	if err != nil {
		return fmt.Errorf("encoding grant entity: %w", err)
	}
	_, err = s.audit.UpsertEntity(ctx, entity, &aztables.UpsertEntityOptions{UpdateMode: aztables.UpdateModeReplace})
	return storageError(fmt.Sprintf("recording a grant of buffer %s", g.BufferID), err)
}

// Grants reads one page of a buffer's grants, newest first. It asks for one entry
// more than the page holds, to know whether another page follows.
func (s *Store) Grants(ctx context.Context, q model.GrantQuery) (model.GrantPage, error) {
	page := model.GrantPage{Items: []model.Grant{}}
	if q.Continuation != "" && !grantRowKeyPattern.MatchString(q.Continuation) {
		return page, fmt.Errorf("listing grants: continuation %q: %w", q.Continuation, model.ErrInvalidContinuation)
	}
	if q.Limit <= 0 || q.BufferID == "" || len(q.BufferID) > maxIDBytes {
		return page, nil
	}
	filter := fmt.Sprintf("PartitionKey eq '%s'", escapeKey(q.BufferID))
	if q.Continuation != "" {
		filter += fmt.Sprintf(" and RowKey gt '%s'", q.Continuation)
	}
	top := int32(min(q.Limit+1, 1000))
	pager := s.audit.NewListEntitiesPager(&aztables.ListEntitiesOptions{Filter: &filter, Top: &top})
	var rowKeys []string
	for pager.More() && len(page.Items) <= q.Limit {
		resp, err := pager.NextPage(ctx)
		if err != nil {
			return model.GrantPage{}, storageError(fmt.Sprintf("listing grants of buffer %s", q.BufferID), err)
		}
		for _, raw := range resp.Entities {
			g, rk, err := parseGrant(raw)
			if err != nil {
				return model.GrantPage{}, err
			}
			page.Items, rowKeys = append(page.Items, g), append(rowKeys, rk)
		}
	}
	if len(page.Items) > q.Limit {
		page.Items = page.Items[:q.Limit]
		page.Continuation = rowKeys[q.Limit-1]
	}
	return page, nil
}

func parseGrant(raw []byte) (model.Grant, string, error) {
	var entity struct {
		RowKey string
		Grant  string
	}
	var g model.Grant
	if err := json.Unmarshal(raw, &entity); err != nil {
		return g, "", fmt.Errorf("decoding grant entity: %w", err)
	}
	if err := json.Unmarshal([]byte(entity.Grant), &g); err != nil {
		return g, "", fmt.Errorf("decoding grant %s: %w", entity.RowKey, err)
	}
	return g, entity.RowKey, nil
}
