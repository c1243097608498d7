package tablestore

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"spool/internal/model"
)

// Table keys may not hold / \ # ? or control characters, and Azurite caps them at 512
// characters. escapeKey keeps the usual tag and ID alphabet as is, so keys stay short
// and readable, and writes any other byte as ~XX.
func escapeKey(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "~%02X", c)
	}
	return b.String()
}

// maxEscapedTagKey keeps a tag partition key well below Azurite's 512-character cap.
const maxEscapedTagKey = 400

// tagPartition names the index partition of one tag pair. '=' never appears in an
// escaped string, so the mapping is one-to-one. Pairs too long for a key fall back to
// a hash; a collision there is harmless because List checks every candidate against
// the buffer record.
func tagPartition(key, value string) string {
	pk := escapeKey(key) + "=" + escapeKey(value)
	if len(pk) <= maxEscapedTagKey {
		return pk
	}
	// "~h" cannot come out of escapeKey, whose '~' is always followed by a hex digit.
	sum := sha256.Sum256([]byte(strconv.Itoa(len(key)) + ":" + key + value))
	return "~h" + hex.EncodeToString(sum[:])
}

// recordPartition spreads buffer records over 256 partitions by a hash of the ID, so
// seeding can batch records (a batch needs one partition) and no partition runs hot.
func recordPartition(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:1])
}

// indexShard names which partition of each index holds a buffer's entries. The
// indexes were first written one partition each (the order index "all", the expiry
// index "due", one partition per tag pair); that layout is legacyShard, still read by
// every list so that buffers created before sharding stay listed. Buffers created
// with more than one shard get one of 0..n-1, chosen from their ID and kept in their
// record for life, so raising the shard count never moves an existing entry.
type indexShard int

const (
	legacyShard indexShard = -1
	// MaxIndexShards keeps a shard number to two hex digits in partition keys, and a
	// list's fan-out (one query per shard) within reason.
	MaxIndexShards = 256
)

// shardOf picks a new buffer's shard from its ID: a stable hash, so every writer
// and reader agrees, spread evenly over n shards. One shard is the legacy layout.
func shardOf(id string, n int) indexShard {
	if n <= 1 {
		return legacyShard
	}
	// Bytes 8..15 of the hash: recordPartition uses byte 0, and the two spreads
	// need not line up.
	sum := sha256.Sum256([]byte(id))
	return indexShard(binary.BigEndian.Uint64(sum[8:16]) % uint64(n))
}

// partition is the key of this shard's partition of an index whose legacy
// partition is base. "~s" cannot come out of escapeKey (its '~' is always followed
// by a hex digit) nor start a hashed tag partition ("~h"), and the prefix has a
// fixed length, so sharded keys never collide with each other or with legacy ones.
// The shard goes first so that each shard's partitions of every index lie in their
// own key range, which the service can serve from different servers.
func (sh indexShard) partition(base string) string {
	if sh == legacyShard {
		return base
	}
	return fmt.Sprintf("~s%02x-%s", int(sh), base)
}

// readShards lists every shard a list must read with n configured shards.
func readShards(n int) []indexShard {
	shards := []indexShard{legacyShard}
	for i := 0; n > 1 && i < n; i++ {
		shards = append(shards, indexShard(i))
	}
	return shards
}

// Index row keys sort newest first: the inverted creation time, then the inverted
// bytes of the ID, so ascending row-key order is (createdAt desc, id desc).
const (
	timeDigits = 19
	rowKeyEnd  = '~' // sorts after every hex digit, so a longer ID comes first
)

var (
	minCreatedAt = time.Unix(0, 0).UTC()
	maxCreatedAt = time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC)
)

func orderRowKey(createdAt time.Time, id string) string {
	var b strings.Builder
	inv := int64(1<<63-1) - createdAt.UnixNano()
	fmt.Fprintf(&b, "%0*d", timeDigits, inv)
	for i := 0; i < len(id); i++ {
		fmt.Fprintf(&b, "%02x", 255-id[i])
	}
	b.WriteByte(rowKeyEnd)
	return b.String()
}

// parseOrderRowKey is the inverse of orderRowKey; it also validates positions that
// come back from clients inside continuation tokens.
func parseOrderRowKey(rk string) (id string, err error) {
	if len(rk) < timeDigits+1 || rk[len(rk)-1] != rowKeyEnd {
		return "", errors.New("malformed index row key")
	}
	if _, err := strconv.ParseUint(rk[:timeDigits], 10, 63); err != nil {
		return "", fmt.Errorf("malformed index row key: %w", err)
	}
	raw, err := hex.DecodeString(rk[timeDigits : len(rk)-1])
	if err != nil {
		return "", fmt.Errorf("malformed index row key: %w", err)
	}
	for i := range raw {
		raw[i] = 255 - raw[i]
	}
	return string(raw), nil
}

// The API shows the entity's own ETag in base64url, so it is shell-safe (Table ETags
// hold quotes) and converts back to exactly the value the table compares.
func encodeETag(e azcore.ETag) string {
	return base64.RawURLEncoding.EncodeToString([]byte(e))
}

func decodeETag(s string) (azcore.ETag, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(raw) == 0 {
		return "", fmt.Errorf("malformed etag %q: %w", s, model.ErrPreconditionFailed)
	}
	// Anything the table did not issue could make it answer 400 instead of 412.
	for _, c := range raw {
		if c < 0x20 || c > 0x7e {
			return "", fmt.Errorf("malformed etag %q: %w", s, model.ErrPreconditionFailed)
		}
	}
	if !strings.HasPrefix(string(raw), `W/"`) || !strings.HasSuffix(string(raw), `"`) {
		return "", fmt.Errorf("malformed etag %q: %w", s, model.ErrPreconditionFailed)
	}
	return azcore.ETag(raw), nil
}

// continuation is the position after the last buffer of a page. Row keys order every
// index the same way, so one position serves the listing and every tag index, and
// it is every shard's position at once: a page ends at row key k exactly when every
// row up to k, in every shard, has been merged. Tokens are not signed, and need not
// be: they hold only the creation time and ID of a buffer the caller was shown, and
// any well-formed position starts an exact list there. A malformed one is refused
// with model.ErrInvalidContinuation, so a token cannot widen a query or make a page
// skip or repeat a buffer. Tokens issued before sharding stay valid.
type continuation struct {
	V     int    `json:"v"`
	After string `json:"after"`
}

const continuationVersion = 1

func encodeContinuation(afterRowKey string) string {
	raw, _ := json.Marshal(continuation{V: continuationVersion, After: afterRowKey})
	return base64.RawURLEncoding.EncodeToString(raw)
}

func decodeContinuation(token string) (afterRowKey string, err error) {
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return "", fmt.Errorf("decoding continuation: %w", model.ErrInvalidContinuation)
	}
	var c continuation
	if err := json.Unmarshal(raw, &c); err != nil || c.V != continuationVersion {
		return "", fmt.Errorf("parsing continuation: %w", model.ErrInvalidContinuation)
	}
	if _, err := parseOrderRowKey(c.After); err != nil {
		return "", fmt.Errorf("continuation position: %w", model.ErrInvalidContinuation)
	}
	return c.After, nil
}

// odataQuote writes s as an OData string literal.
func odataQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}
