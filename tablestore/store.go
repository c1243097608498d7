// Package tablestore keeps buffer records, their tags and the indexes that list them
// in Azure Table Storage.
//
// Four tables, so that on Azurite (which scans a whole table for every query) an
// index query never pays for the size of another:
//
//   - records: one entity per buffer, the authoritative copy; point reads only.
//   - order:   one entry per buffer, row key newest first; it serves unfiltered
//     lists.
//   - tags:    one entry per (tag pair, buffer), partitions per tag pair, same row
//     keys; a tag-filtered list reads only the partitions of one of its pairs.
//   - expiry:  one entry per buffer that has an expiry, row key expiry time then ID,
//     so the lifecycle sweep finds due buffers with range queries (see Expired).
//
// Each index is split into IndexShards partitions (per tag pair, for tags), the
// shard chosen from the buffer's ID, because one partition takes only about 2,000
// writes/s. Lists and the sweep merge the shards' ordered ranges (see merge.go).
//
// Index entries hold a copy of the buffer, so a list is one index query. Writers
// first mark the entries they will touch "pending", then swap the record, then
// commit the entries (see replaceRecord). List trusts committed copies and checks a
// pending entry against its record, so a crash or a lost race can leave entries
// that cost a point read, never ones that make a list wrong.
package tablestore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"
	"unicode/utf16"
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
	// IndexShards is how many partitions each index is spread over (0 means
	// DefaultIndexShards; 1 is the unsharded layout; at most 256). Every list reads
	// all of them, so more shards cost lists a query each. Raise it freely; never
	// lower it, or buffers in the dropped shards vanish from lists until it is
	// raised again.
	IndexShards int
}

// DefaultIndexShards spreads each index over 16 partitions. A create writes its
// order, tag and expiry entries twice each (pending, then committed), so one
// partition's ~2,000 writes/s cap creates near 1,000/s; 16 shards lift that to about
// 15,000/s. The account's 20,000 transactions/s caps creates lower (3 transactions
// each without tags or expiry: 6,700/s), so the account, not a partition, is the
// limit, with room for an uneven hash. More would only cost lists: a list's 17
// queries (16 and the legacy partition) run at once, but each is a transaction.
const DefaultIndexShards = 16

// Store implements the handler's buffer store over Azure Table Storage.
type Store struct {
	svc        *aztables.ServiceClient
	tableNames []string // records, order, tags, expiry, audit
	records    *aztables.Client
	order      *aztables.Client
	tags       *aztables.Client
	expiry     *aztables.Client
	audit      *aztables.Client
	now        func() time.Time
	shards     int
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
	s, err := New(svc, opts)
	if err != nil {
		return nil, err
	}
	if err := s.CreateTables(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// New returns a Store over svc without contacting the service: its tables may not
// exist yet (see CreateTables), so a server can start while storage is unreachable.
func New(svc *aztables.ServiceClient, opts Options) (*Store, error) {
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
	shards, err := indexShards(opts.IndexShards)
	if err != nil {
		return nil, err
	}
	s := &Store{svc: svc, now: now, shards: shards}
	for _, t := range []struct {
		client **aztables.Client
		name   string
	}{
		{&s.records, prefix + "buffers"},
		{&s.order, prefix + "bufferorder"},
		{&s.tags, prefix + "buffertags"},
		{&s.expiry, prefix + "bufferexpiry"},
		{&s.audit, prefix + "bufferaudit"},
	} {
		*t.client = svc.NewClient(t.name)
		s.tableNames = append(s.tableNames, t.name)
	}
	return s, nil
}

func indexShards(n int) (int, error) {
	switch {
	case n == 0:
		return DefaultIndexShards, nil
	case n < 1 || n > MaxIndexShards:
		return 0, fmt.Errorf("tablestore: %d index shards: want 1-%d", n, MaxIndexShards)
	}
	return n, nil
}

// record is a buffer as the records table holds it, with the entity's ETag and the
// shard of its index entries.
type record struct {
	buf   model.Buffer
	etag  azcore.ETag
	shard indexShard
}

// Tags live in one JSON string property because tag keys may hold '-' and '.',
// which property names cannot. A string property holds at most 64 KiB, so long tag
// sets continue in Tags1, Tags2, ...
const (
	tagsChunkBytes = 16 << 10 // ASCII (see asciiJSON): 16 Ki UTF-16 units, 32 KiB
	maxTagsChunks  = 24       // ≤ 768 KiB of strings: below the 1 MiB entity limit
)

func recordEntity(b model.Buffer, shard indexShard) ([]byte, error) {
	props, err := bufferProperties(b)
	if err != nil {
		return nil, err
	}
	props["PartitionKey"] = recordPartition(b.ID)
	props["RowKey"] = escapeKey(b.ID)
	setShardProperty(props, shard)
	return json.Marshal(props)
}

// copyEntity is an index entry: the index keys and a copy of the buffer. A committed
// copy also carries the record's ETag, so List can answer from the index alone.
func copyEntity(pk, rk string, b model.Buffer, pending bool) ([]byte, error) {
	props, err := bufferProperties(b)
	if err != nil {
		return nil, err
	}
	props["PartitionKey"] = pk
	props["RowKey"] = rk
	props["Pending"] = pending
	if !pending {
		props["ETag"] = b.ETag
	}
	return json.Marshal(props)
}

func keyEntity(pk, rk string) []byte {
	raw, _ := json.Marshal(map[string]string{"PartitionKey": pk, "RowKey": rk})
	return raw
}

func bufferProperties(b model.Buffer) (map[string]any, error) {
	tags := b.Tags
	if tags == nil {
		tags = map[string]string{}
	}
	tagsJSON, err := json.Marshal(tags)
	if err != nil {
		return nil, fmt.Errorf("encoding tags: %w", err)
	}
	tagsJSON = asciiJSON(tagsJSON)
	props := map[string]any{
		"ID":        b.ID,
		"CreatedAt": b.CreatedAt.UTC().Format(time.RFC3339Nano),
		"Location":  b.Location,
	}
	if b.ExpiresAt != nil {
		props["ExpiresAt"] = b.ExpiresAt.UTC().Format(time.RFC3339Nano)
	}
	if b.IsSoftDeleted {
		props["SoftDeleted"] = true
	}
	if b.KeptExpiresAt != nil {
		props["KeptExpiresAt"] = b.KeptExpiresAt.UTC().Format(time.RFC3339Nano)
	}
	if b.Purging {
		props["Purging"] = true
	}
	if b.StorageAccount != "" {
		props["StorageAccount"] = b.StorageAccount
	}
	statusProperties(b.DataStatus, props)
	for n := 0; n == 0 || len(tagsJSON) > 0; n++ {
		if n == maxTagsChunks {
			return nil, fmt.Errorf("tags of buffer %s take more than %d bytes", b.ID, maxTagsChunks*tagsChunkBytes)
		}
		cut := min(len(tagsJSON), tagsChunkBytes)
		props[tagsProperty(n)] = string(tagsJSON[:cut])
		tagsJSON = tagsJSON[cut:]
	}
	return props, nil
}

// asciiJSON rewrites every non-ASCII character of a JSON text as a \u escape.
// Azurite can corrupt a multi-byte character that straddles a chunk of the request
// body it reads (seen with long tag sets: one character in a few hundred KB became
// two U+FFFD). Pure ASCII cannot be split that way, and it lets a chunk be cut at any
// byte.
func asciiJSON(text []byte) []byte {
	out := make([]byte, 0, len(text))
	for _, r := range string(text) {
		if r < utf8.RuneSelf {
			out = append(out, byte(r))
			continue
		}
		for _, unit := range utf16.Encode([]rune{r}) {
			out = fmt.Appendf(out, `\u%04x`, unit)
		}
	}
	return out
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
	b, err := parseBuffer(props)
	if err != nil {
		return record{}, err
	}
	b.ETag = encodeETag(etag)
	return record{buf: b, etag: etag, shard: shardProperty(props)}, nil
}

// A record names the shard of its index entries in IndexShard; records written
// before sharding (and with one shard) have none: the legacy partitions.
const shardPropertyName = "IndexShard"

func setShardProperty(props map[string]any, shard indexShard) {
	if shard != legacyShard {
		props[shardPropertyName] = int(shard)
	}
}

func shardProperty(props map[string]any) indexShard {
	n, ok := props[shardPropertyName].(float64)
	if !ok || n < 0 || n >= MaxIndexShards || n != float64(int(n)) {
		return legacyShard
	}
	return indexShard(n)
}

// parseBuffer reads the buffer properties of a record or of an index entry's copy.
func parseBuffer(props map[string]any) (model.Buffer, error) {
	str := func(name string) string { s, _ := props[name].(string); return s }
	b := model.Buffer{ID: str("ID"), Location: str("Location"), StorageAccount: str("StorageAccount")}
	created, err := time.Parse(time.RFC3339Nano, str("CreatedAt"))
	if err != nil {
		return model.Buffer{}, fmt.Errorf("buffer %s: createdAt: %w", b.ID, err)
	}
	b.CreatedAt = created
	if s := str("ExpiresAt"); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return model.Buffer{}, fmt.Errorf("buffer %s: expiresAt: %w", b.ID, err)
		}
		b.ExpiresAt = &t
	}
	if s := str("KeptExpiresAt"); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return model.Buffer{}, fmt.Errorf("buffer %s: keptExpiresAt: %w", b.ID, err)
		}
		b.KeptExpiresAt = &t
	}
	b.IsSoftDeleted, _ = props["SoftDeleted"].(bool)
	b.Purging, _ = props["Purging"].(bool)
	if b.DataStatus, err = parseStatus(props); err != nil {
		return model.Buffer{}, fmt.Errorf("buffer %s: %w", b.ID, err)
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
		return model.Buffer{}, fmt.Errorf("buffer %s: tags: %w", b.ID, err)
	}
	if b.Tags == nil {
		b.Tags = map[string]string{}
	}
	return b, nil
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
	if b.Tags == nil {
		b.Tags = map[string]string{}
	}
	shard := shardOf(b.ID, s.shards)
	entity, err := recordEntity(b, shard)
	if err != nil {
		return model.Buffer{}, fmt.Errorf("inserting buffer: %w", err)
	}
	entries := s.entriesOf(shard, b, nil)
	etags, err := s.markPending(ctx, entries, b)
	if err != nil {
		return model.Buffer{}, fmt.Errorf("indexing buffer %s: %w", b.ID, err)
	}
	resp, err := s.records.AddEntity(ctx, entity, nil)
	if err != nil {
		if isStatus(err, 409) {
			return model.Buffer{}, fmt.Errorf("inserting buffer %s: %w", b.ID, ErrExists)
		}
		return model.Buffer{}, storageError(fmt.Sprintf("inserting buffer %s", b.ID), err)
	}
	b.ETag = encodeETag(resp.ETag)
	s.commit(ctx, entries, b, etags)
	return b, nil
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
// model.ErrPreconditionFailed when it is stale or malformed. Without one, Update
// retries its compare-and-swap until it wins.
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
		if cur.buf.IsSoftDeleted != upd.SoftDeleted || cur.buf.Purging {
			return model.Buffer{}, fmt.Errorf("updating buffer %s (soft-deleted %v): %w", id, cur.buf.IsSoftDeleted, model.ErrNotFound)
		}
		if want != nil && *want != cur.etag {
			// Almost surely stale, but the table is the judge: a merge of no
			// properties succeeds only on the current ETag and changes nothing else.
			// Either way the indexes are left alone.
			resp, err := s.records.UpdateEntity(ctx, keyEntity(recordPartition(id), escapeKey(id)),
				&aztables.UpdateEntityOptions{IfMatch: want, UpdateMode: aztables.UpdateModeMerge})
			if err == nil && attempt < maxUpdateAttempts {
				want = &resp.ETag
				continue
			}
			return model.Buffer{}, fmt.Errorf("updating buffer %s: %w", id, casError(err))
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
		updated, err := s.replaceRecord(ctx, cur, next)
		if errors.Is(err, model.ErrPreconditionFailed) && want == nil && attempt < maxUpdateAttempts {
			continue
		}
		if err != nil {
			return model.Buffer{}, fmt.Errorf("updating buffer %s: %w", id, err)
		}
		return updated, nil
	}
}

// casError maps the failure of a conditional write on a record.
func casError(err error) error {
	switch {
	case err == nil:
		return fmt.Errorf("%w: lost the compare-and-swap %d times", model.ErrPreconditionFailed, maxUpdateAttempts)
	case isStatus(err, 412):
		return fmt.Errorf("%w: %w", model.ErrPreconditionFailed, err)
	case isStatus(err, 404):
		return fmt.Errorf("%w: %w", model.ErrNotFound, err)
	}
	return storageError("replacing record", err)
}

// replaceRecord swaps cur for next, keeping the indexes in step:
//  1. mark pending every index entry of the old and the new tags (and the order
//     entry), holding a copy of next, so nothing List trusts describes either state;
//  2. compare-and-swap the record on cur's ETag;
//  3. commit the entries: those of next's tags get next's copy and stop being
//     pending, those of lost tags go, each only if the entry still carries the ETag
//     of our step 1. A writer that marked it since owns it now, and a failed commit
//     leaves a pending entry, which List checks against the record: slower, never
//     wrong.
//
// A crash anywhere leaves at worst pending entries.
func (s *Store) replaceRecord(ctx context.Context, cur record, next model.Buffer) (model.Buffer, error) {
	entity, err := recordEntity(next, cur.shard)
	if err != nil {
		return model.Buffer{}, err
	}
	entries := s.entriesOf(cur.shard, next, &cur.buf)
	etags, err := s.markPending(ctx, entries, next)
	if err != nil {
		return model.Buffer{}, err
	}
	resp, err := s.records.UpdateEntity(ctx, entity, &aztables.UpdateEntityOptions{IfMatch: &cur.etag, UpdateMode: aztables.UpdateModeReplace})
	if err != nil {
		return model.Buffer{}, casError(err)
	}
	next.ETag = encodeETag(resp.ETag)
	s.commit(ctx, entries, next, etags)
	return next, nil
}

// indexEntry names one index entity of a buffer; keep is false for an entry the
// buffer is losing (a tag pair it no longer has, an expiry it no longer has).
type indexEntry struct {
	table  *aztables.Client
	pk, rk string
	keep   bool
}

// entriesOf lists the index entries of next in its shard: the order entry, the
// entries of its tag pairs and of its expiry (kept), and, when it replaces cur, those
// of cur's pairs and expiry that next lacks (to remove).
func (s *Store) entriesOf(shard indexShard, next model.Buffer, cur *model.Buffer) []indexEntry {
	rk := orderRowKey(next.CreatedAt, next.ID)
	entries := []indexEntry{{s.order, shard.partition(orderPartition), rk, true}}
	for k, v := range next.Tags {
		entries = append(entries, indexEntry{s.tags, shard.partition(tagPartition(k, v)), rk, true})
	}
	var expiryRK string
	if next.ExpiresAt != nil {
		expiryRK = expiryRowKey(*next.ExpiresAt, next.ID)
		entries = append(entries, indexEntry{s.expiry, shard.partition(expiryPartition), expiryRK, true})
	}
	if cur == nil {
		return entries
	}
	for k, v := range cur.Tags {
		if now, ok := next.Tags[k]; !ok || now != v {
			entries = append(entries, indexEntry{s.tags, shard.partition(tagPartition(k, v)), rk, false})
		}
	}
	if cur.ExpiresAt != nil {
		if old := expiryRowKey(*cur.ExpiresAt, cur.ID); old != expiryRK {
			entries = append(entries, indexEntry{s.expiry, shard.partition(expiryPartition), old, false})
		}
	}
	return entries
}

// markPending writes a pending copy of b into every entry and returns their ETags.
func (s *Store) markPending(ctx context.Context, entries []indexEntry, b model.Buffer) ([]azcore.ETag, error) {
	etags := make([]azcore.ETag, len(entries))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(fanOut)
	for i, e := range entries {
		g.Go(func() error {
			entity, err := copyEntity(e.pk, e.rk, b, true)
			if err != nil {
				return err
			}
			resp, err := e.table.UpsertEntity(gctx, entity, &aztables.UpsertEntityOptions{UpdateMode: aztables.UpdateModeReplace})
			if err != nil {
				return storageError(fmt.Sprintf("marking index entry %s/%s", e.pk, e.rk), err)
			}
			etags[i] = resp.ETag
			return nil
		})
	}
	return etags, g.Wait()
}

// commit finishes a write whose record has landed (step 3 of replaceRecord). It is
// best effort: an entry it fails to commit stays pending, which costs List a point
// read and nothing else.
func (s *Store) commit(ctx context.Context, entries []indexEntry, b model.Buffer, etags []azcore.ETag) {
	g := &errgroup.Group{}
	g.SetLimit(fanOut)
	for i, e := range entries {
		g.Go(func() error {
			if !e.keep {
				_, _ = e.table.DeleteEntity(ctx, e.pk, e.rk, &aztables.DeleteEntityOptions{IfMatch: &etags[i]})
				return nil
			}
			entity, err := copyEntity(e.pk, e.rk, b, false)
			if err != nil {
				return nil
			}
			_, _ = e.table.UpdateEntity(ctx, entity, &aztables.UpdateEntityOptions{IfMatch: &etags[i], UpdateMode: aztables.UpdateModeReplace})
			return nil
		})
	}
	_ = g.Wait()
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
