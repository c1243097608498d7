// Package tablestore keeps buffer records, their tags and the indexes that list them
// in Azure Table Storage.
//
// Three tables, so that on Azurite (which scans a whole table for every query) an
// index query never pays for the size of another:
//
//   - records: one entity per buffer, the only authoritative copy; point reads only.
//   - order:   one entity per buffer in a single partition, row key newest first;
//     it serves unfiltered lists.
//   - tags:    one entity per (tag pair, buffer), one partition per tag pair, same
//     row keys; a tag-filtered list reads only the partition of one of its pairs.
//
// Index entities are hints. List checks every candidate against its record, so an
// index entry left behind by a crash or a lost race can never put a buffer in a list
// it does not belong to. The writers keep the other direction: every tag a record
// holds has an index entry from before the record's compare-and-swap until the tag is
// removed again (see Update).
package tablestore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"
	"unicode/utf8"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"golang.org/x/sync/errgroup"

	"spool/internal/model"
)

// Options configures a Store.
type Options struct {
	// TablePrefix starts the names of the store's tables (default "spool"); distinct
	// prefixes let tests share one storage account. Letters and digits only.
	TablePrefix string
	// Now is the clock used to age out leftover index entries; nil means time.Now.
	Now func() time.Time
}

// Store implements the handler's buffer store over Azure Table Storage.
type Store struct {
	records *aztables.Client
	order   *aztables.Client
	tags    *aztables.Client
	now     func() time.Time
}

const (
	orderPartition = "all"
	// An index entry whose record is missing may belong to an Insert still in flight;
	// only after this long is it surely a crash leftover that List may remove.
	leftoverAge = 15 * time.Minute
	// Parallel point reads and index writes per call; Azurite gains nothing beyond ~16.
	fanOut = 16
	// Update retries its compare-and-swap this often under contention without ifMatch.
	maxUpdateAttempts = 20
	// Keys are capped at 512 characters on Azurite: an escaped ID takes up to 3 per
	// byte in the record's row key, an inverted one 2 per byte in index row keys.
	maxIDBytes = 150
)

var tablePrefixPattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]{0,40}$`)

// Open returns a Store over svc, creating its tables if they are missing.
func Open(ctx context.Context, svc *aztables.ServiceClient, opts Options) (*Store, error) {
	if svc == nil {
		return nil, errors.New("tablestore: nil service client")
	}
	prefix := opts.TablePrefix
	if prefix == "" {
		prefix = "spool"
	}
	if !tablePrefixPattern.MatchString(prefix) {
		return nil, fmt.Errorf("tablestore: table prefix %q must be 1-41 letters or digits, starting with a letter", prefix)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	s := &Store{now: now}
	for _, t := range []struct {
		client **aztables.Client
		name   string
	}{
		{&s.records, prefix + "buffers"},
		{&s.order, prefix + "bufferorder"},
		{&s.tags, prefix + "buffertags"},
	} {
		if _, err := svc.CreateTable(ctx, t.name, nil); err != nil && !isStatus(err, 409) {
			return nil, storageError(fmt.Sprintf("creating table %s", t.name), err)
		}
		*t.client = svc.NewClient(t.name)
	}
	return s, nil
}

// record is a buffer as the records table holds it, with the entity's ETag.
type record struct {
	buf  model.Buffer
	etag azcore.ETag
}

// Tags live in one JSON string property because tag keys may hold '-' and '.',
// which property names cannot. A string property holds at most 64 KiB, so long tag
// sets continue in Tags1, Tags2, ...
const (
	tagsChunkBytes = 16 << 10 // ≤ 32 KiB in UTF-16 whatever the text
	maxTagsChunks  = 32       // keeps the entity far below 1 MiB and 252 properties
)

func recordEntity(b model.Buffer) ([]byte, error) {
	tags := b.Tags
	if tags == nil {
		tags = map[string]string{}
	}
	tagsJSON, err := json.Marshal(tags)
	if err != nil {
		return nil, fmt.Errorf("encoding tags: %w", err)
	}
	props := map[string]any{
		"PartitionKey": recordPartition(b.ID),
		"RowKey":       escapeKey(b.ID),
		"ID":           b.ID,
		"CreatedAt":    b.CreatedAt.UTC().Format(time.RFC3339Nano),
		"Location":     b.Location,
	}
	if b.ExpiresAt != nil {
		props["ExpiresAt"] = b.ExpiresAt.UTC().Format(time.RFC3339Nano)
	}
	for n := 0; n == 0 || len(tagsJSON) > 0; n++ {
		if n == maxTagsChunks {
			return nil, fmt.Errorf("tags of buffer %s take more than %d bytes", b.ID, maxTagsChunks*tagsChunkBytes)
		}
		cut := min(len(tagsJSON), tagsChunkBytes)
		for cut < len(tagsJSON) && !utf8.RuneStart(tagsJSON[cut]) {
			cut--
		}
		props[tagsProperty(n)] = string(tagsJSON[:cut])
		tagsJSON = tagsJSON[cut:]
	}
	return json.Marshal(props)
}

func tagsProperty(n int) string {
	if n == 0 {
		return "Tags"
	}
	return fmt.Sprintf("Tags%d", n)
}

func parseRecord(raw []byte, etag azcore.ETag) (record, error) {
	var props map[string]any
	if err := json.Unmarshal(raw, &props); err != nil {
		return record{}, fmt.Errorf("decoding buffer record: %w", err)
	}
	str := func(name string) string { s, _ := props[name].(string); return s }
	b := model.Buffer{ID: str("ID"), Location: str("Location"), ETag: encodeETag(etag)}
	created, err := time.Parse(time.RFC3339Nano, str("CreatedAt"))
	if err != nil {
		return record{}, fmt.Errorf("buffer record %s: createdAt: %w", b.ID, err)
	}
	b.CreatedAt = created
	if s := str("ExpiresAt"); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return record{}, fmt.Errorf("buffer record %s: expiresAt: %w", b.ID, err)
		}
		b.ExpiresAt = &t
	}
	var tagsJSON []byte
	for n := 0; ; n++ {
		chunk, ok := props[tagsProperty(n)].(string)
		if !ok {
			break
		}
		tagsJSON = append(tagsJSON, chunk...)
	}
	if err := json.Unmarshal(tagsJSON, &b.Tags); err != nil {
		return record{}, fmt.Errorf("buffer record %s: tags: %w", b.ID, err)
	}
	if b.Tags == nil {
		b.Tags = map[string]string{}
	}
	return record{buf: b, etag: etag}, nil
}

func indexEntity(pk, rk string) []byte {
	raw, _ := json.Marshal(map[string]string{"PartitionKey": pk, "RowKey": rk})
	return raw
}

// validateNew rejects records the indexes cannot place.
func validateNew(b model.Buffer) error {
	if b.ID == "" {
		return errors.New("buffer has no ID")
	}
	if len(b.ID) > maxIDBytes {
		return fmt.Errorf("buffer ID of %d bytes is too long", len(b.ID))
	}
	if b.CreatedAt.Before(minCreatedAt) || !b.CreatedAt.Before(maxCreatedAt) {
		return fmt.Errorf("buffer %s: createdAt %s is outside %d-%d", b.ID, b.CreatedAt, minCreatedAt.Year(), maxCreatedAt.Year()-1)
	}
	return nil
}

// Insert stores a new buffer record (create-only) and returns it with its ETag. An
// existing ID gives ErrExists.
func (s *Store) Insert(ctx context.Context, b model.Buffer) (model.Buffer, error) {
	if err := validateNew(b); err != nil {
		return model.Buffer{}, fmt.Errorf("inserting buffer: %w", err)
	}
	b.CreatedAt = b.CreatedAt.UTC()
	entity, err := recordEntity(b)
	if err != nil {
		return model.Buffer{}, fmt.Errorf("inserting buffer: %w", err)
	}
	// Index entries go first: if we crash before the record lands they are
	// leftovers that List ignores, never a record that List cannot find.
	rk := orderRowKey(b.CreatedAt, b.ID)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(fanOut)
	g.Go(func() error { return s.upsertIndex(gctx, s.order, orderPartition, rk) })
	for k, v := range b.Tags {
		g.Go(func() error { return s.upsertIndex(gctx, s.tags, tagPartition(k, v), rk) })
	}
	if err := g.Wait(); err != nil {
		return model.Buffer{}, fmt.Errorf("indexing buffer %s: %w", b.ID, err)
	}
	resp, err := s.records.AddEntity(ctx, entity, nil)
	if err != nil {
		if isStatus(err, 409) {
			return model.Buffer{}, fmt.Errorf("inserting buffer %s: %w", b.ID, ErrExists)
		}
		return model.Buffer{}, storageError(fmt.Sprintf("inserting buffer %s", b.ID), err)
	}
	if b.Tags == nil {
		b.Tags = map[string]string{}
	}
	b.ETag = encodeETag(resp.ETag)
	return b, nil
}

func (s *Store) upsertIndex(ctx context.Context, table *aztables.Client, pk, rk string) error {
	_, err := table.UpsertEntity(ctx, indexEntity(pk, rk), &aztables.UpsertEntityOptions{UpdateMode: aztables.UpdateModeReplace})
	return storageError(fmt.Sprintf("writing index entry %s/%s", pk, rk), err)
}

// Get reads one buffer record; model.ErrNotFound when there is none.
func (s *Store) Get(ctx context.Context, id string) (model.Buffer, error) {
	rec, err := s.getRecord(ctx, id)
	if err != nil {
		return model.Buffer{}, err
	}
	return rec.buf, nil
}

func (s *Store) getRecord(ctx context.Context, id string) (record, error) {
	if id == "" || len(id) > maxIDBytes {
		return record{}, fmt.Errorf("buffer %q: %w", id, model.ErrNotFound)
	}
	resp, err := s.records.GetEntity(ctx, recordPartition(id), escapeKey(id), nil)
	if err != nil {
		if isStatus(err, 404) {
			return record{}, fmt.Errorf("buffer %s: %w", id, model.ErrNotFound)
		}
		return record{}, storageError(fmt.Sprintf("reading buffer %s", id), err)
	}
	return parseRecord(resp.Value, resp.ETag)
}

// Update replaces a buffer's tags, and its expiry when upd.ExpiresAt is set. With a
// non-empty ifMatch (other than "*") the table itself compares it:
// model.ErrPreconditionFailed when it is stale or malformed.
//
// The order of steps keeps every List correct whatever interleaves or crashes:
//  1. write index entries for the tags being gained;
//  2. compare-and-swap the record;
//  3. write the gained entries again: a concurrent cleanup that read the record
//     before step 2 may have removed them, and its conditional delete fails once the
//     entry's ETag has moved;
//  4. remove entries of lost tags, each only if the record still lacks the tag.
func (s *Store) Update(ctx context.Context, id string, upd model.BufferUpdate, ifMatch string) (model.Buffer, error) {
	var want *azcore.ETag
	if ifMatch != "" && ifMatch != "*" {
		e, err := decodeETag(ifMatch)
		if err != nil {
			return model.Buffer{}, fmt.Errorf("updating buffer %s: %w", id, err)
		}
		want = &e
	}
	for attempt := 1; ; attempt++ {
		cur, err := s.getRecord(ctx, id)
		if err != nil {
			return model.Buffer{}, fmt.Errorf("updating: %w", err)
		}
		next := cur.buf
		next.Tags = upd.Tags
		if next.Tags == nil {
			next.Tags = map[string]string{}
		}
		if upd.ExpiresAt != nil {
			t := upd.ExpiresAt.UTC()
			next.ExpiresAt = &t
		}
		casETag, before := cur.etag, cur.buf.Tags
		if want != nil {
			casETag = *want
			if *want != cur.etag {
				// The table decides whether the client's ETag is current; if it is, it
				// names a version newer than the one just read, whose tags we do not
				// know, so index every new tag.
				before = nil
			}
		}
		gained, lost := tagDiff(before, next.Tags)
		updated, err := s.swapRecord(ctx, next, casETag, gained)
		if errors.Is(err, model.ErrPreconditionFailed) && want == nil && attempt < maxUpdateAttempts {
			continue
		}
		if err != nil {
			return model.Buffer{}, fmt.Errorf("updating buffer %s: %w", id, err)
		}
		s.removeStaleTags(ctx, id, orderRowKey(next.CreatedAt, id), lost)
		return updated, nil
	}
}

type tagPair struct{ key, value string }

// tagDiff lists the pairs of after missing from before, and the reverse.
func tagDiff(before, after map[string]string) (gained, lost []tagPair) {
	for k, v := range after {
		if old, ok := before[k]; !ok || old != v {
			gained = append(gained, tagPair{k, v})
		}
	}
	for k, v := range before {
		if now, ok := after[k]; !ok || now != v {
			lost = append(lost, tagPair{k, v})
		}
	}
	return gained, lost
}

// swapRecord does steps 1-3 of Update.
func (s *Store) swapRecord(ctx context.Context, next model.Buffer, ifMatch azcore.ETag, gained []tagPair) (model.Buffer, error) {
	entity, err := recordEntity(next)
	if err != nil {
		return model.Buffer{}, err
	}
	rk := orderRowKey(next.CreatedAt, next.ID)
	if err := s.upsertTagEntries(ctx, gained, rk); err != nil {
		return model.Buffer{}, err
	}
	resp, err := s.records.UpdateEntity(ctx, entity, &aztables.UpdateEntityOptions{IfMatch: &ifMatch, UpdateMode: aztables.UpdateModeReplace})
	switch {
	case isStatus(err, 412):
		return model.Buffer{}, fmt.Errorf("%w: %w", model.ErrPreconditionFailed, err)
	case isStatus(err, 404):
		return model.Buffer{}, fmt.Errorf("%w: %w", model.ErrNotFound, err)
	case err != nil:
		return model.Buffer{}, storageError("replacing record", err)
	}
	// The record is updated; a failure here is reported so the caller does not take
	// the tags as listed, though the entries from step 1 are very likely in place.
	if err := s.upsertTagEntries(ctx, gained, rk); err != nil {
		return model.Buffer{}, fmt.Errorf("record updated, but re-indexing its tags failed: %w", err)
	}
	next.ETag = encodeETag(resp.ETag)
	return next, nil
}

func (s *Store) upsertTagEntries(ctx context.Context, pairs []tagPair, rk string) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(fanOut)
	for _, p := range pairs {
		g.Go(func() error { return s.upsertIndex(gctx, s.tags, tagPartition(p.key, p.value), rk) })
	}
	return g.Wait()
}

// removeStaleTags deletes the index entries of pairs a buffer lost, best effort:
// an entry left behind costs a wasted candidate check in List, nothing more. Each
// entry's ETag is taken BEFORE the record is read, and the delete is conditional on
// it, so an Update that gains the pair meanwhile (and rewrites the entry) wins.
func (s *Store) removeStaleTags(ctx context.Context, id, rk string, lost []tagPair) {
	if len(lost) == 0 {
		return
	}
	etags := make([]azcore.ETag, len(lost))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(fanOut)
	for i, p := range lost {
		g.Go(func() error {
			resp, err := s.tags.GetEntity(gctx, tagPartition(p.key, p.value), rk, nil)
			if err == nil {
				etags[i] = resp.ETag
			}
			return nil
		})
	}
	_ = g.Wait()
	cur, err := s.getRecord(ctx, id)
	g = &errgroup.Group{}
	g.SetLimit(fanOut)
	if err != nil && !errors.Is(err, model.ErrNotFound) {
		return
	}
	for i, p := range lost {
		if etags[i] == "" {
			continue
		}
		if v, ok := cur.buf.Tags[p.key]; ok && v == p.value {
			continue
		}
		g.Go(func() error {
			_, _ = s.tags.DeleteEntity(ctx, tagPartition(p.key, p.value), rk, &aztables.DeleteEntityOptions{IfMatch: &etags[i]})
			return nil
		})
	}
	_ = g.Wait()
}

// Delete removes a buffer record and its index entries; deleting a missing buffer
// is not an error.
func (s *Store) Delete(ctx context.Context, id string) error {
	for attempt := 1; ; attempt++ {
		cur, err := s.getRecord(ctx, id)
		if errors.Is(err, model.ErrNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("deleting: %w", err)
		}
		// Conditional, so the index entries removed below are those of the version
		// deleted; an index entry outliving its record is only a leftover.
		_, err = s.records.DeleteEntity(ctx, recordPartition(id), escapeKey(id), &aztables.DeleteEntityOptions{IfMatch: &cur.etag})
		if isStatus(err, 412) && attempt < maxUpdateAttempts {
			continue
		}
		if err != nil && !isStatus(err, 404) {
			return storageError(fmt.Sprintf("deleting buffer %s", id), err)
		}
		rk := orderRowKey(cur.buf.CreatedAt, id)
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(fanOut)
		g.Go(func() error { return s.deleteIndex(gctx, s.order, orderPartition, rk) })
		for k, v := range cur.buf.Tags {
			g.Go(func() error { return s.deleteIndex(gctx, s.tags, tagPartition(k, v), rk) })
		}
		if err := g.Wait(); err != nil {
			return fmt.Errorf("buffer %s deleted, but removing its index entries failed: %w", id, err)
		}
		return nil
	}
}

func (s *Store) deleteIndex(ctx context.Context, table *aztables.Client, pk, rk string) error {
	_, err := table.DeleteEntity(ctx, pk, rk, nil)
	if err != nil && !isStatus(err, 404) {
		return storageError(fmt.Sprintf("deleting index entry %s/%s", pk, rk), err)
	}
	return nil
}

// ServiceClientFromConnectionString connects with a full shared-key connection string
// (Azurite's UseDevelopmentStorage=true shorthand is not understood by the SDK).
func ServiceClientFromConnectionString(cs string) (*aztables.ServiceClient, error) {
	svc, err := aztables.NewServiceClientFromConnectionString(cs, nil)
	if err != nil {
		return nil, fmt.Errorf("table service from connection string: %w", err)
	}
	return svc, nil
}

var accountPattern = regexp.MustCompile(`^[a-z0-9]{3,24}$`)

// ServiceClientFromAccount connects to https://<account>.table.core.windows.net/ with
// a token credential (a managed identity in production).
func ServiceClientFromAccount(account string, cred azcore.TokenCredential) (*aztables.ServiceClient, error) {
	if !accountPattern.MatchString(account) {
		return nil, fmt.Errorf("storage account name %q must be 3-24 lowercase letters or digits", account)
	}
	svc, err := aztables.NewServiceClient("https://"+account+".table.core.windows.net/", cred, nil)
	if err != nil {
		return nil, fmt.Errorf("table service for account %s: %w", account, err)
	}
	return svc, nil
}
