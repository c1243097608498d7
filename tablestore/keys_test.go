package tablestore

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"spool/internal/model"
)

func TestEscapedKeysAreInjectiveAndFreeOfForbiddenCharacters(t *testing.T) {
	pairs := [][2]string{
		{"a", "b=c"}, {"a=b", "c"}, {"a~3Db", "c"}, {"a", "b~3Dc"}, {"", "="}, {"=", ""},
		{"run-id.v2", "x_y"}, {"k/#?\\", "\x00\x1f\x7f"}, {"ünï", "値"},
		{strings.Repeat("/", 128), strings.Repeat("#", 256)}, {strings.Repeat("/", 128), strings.Repeat("#", 255)},
	}
	seen := map[string][2]string{}
	for _, p := range pairs {
		pk := tagPartition(p[0], p[1])
		if prev, ok := seen[pk]; ok {
			t.Fatalf("%q and %q share partition %q", prev, p, pk)
		}
		seen[pk] = p
		if strings.ContainsAny(pk, "/\\#?") || strings.IndexFunc(pk, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0 {
			t.Fatalf("partition %q of %q holds a forbidden character", pk, p)
		}
		if len(pk) > maxEscapedTagKey {
			t.Fatalf("partition of %q is %d characters long", p, len(pk))
		}
	}
	if got := tagPartition("run-id.v2", "a_b"); got != "run-id.v2=a_b" {
		t.Fatalf("usual tags should stay readable, got %q", got)
	}
}

func TestOrderRowKeysSortNewestFirstThenIDDescending(t *testing.T) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// In list order: createdAt desc, then id desc (a longer ID before its prefix).
	want := []struct {
		t  time.Time
		id string
	}{
		{at.Add(time.Nanosecond), "a"},
		{at, "b"},
		{at, "ab"},
		{at, "a"},
		{at, "\x00"},
		{at.Add(-time.Hour), "zz"},
		{minCreatedAt, "x"},
	}
	var keys []string
	for _, w := range want {
		rk := orderRowKey(w.t, w.id)
		id, err := parseOrderRowKey(rk)
		if err != nil || id != w.id {
			t.Fatalf("parse(%q) = %q, %v; want %q", rk, id, err, w.id)
		}
		keys = append(keys, rk)
	}
	if !slices.IsSorted(keys) {
		t.Fatalf("row keys out of list order: %q", keys)
	}
}

func TestETagsRoundTripAndRejectGarbage(t *testing.T) {
	raw := azcore.ETag(`W/"datetime'2026-11-23T21%3A19%3A53.7100000Z'"`)
	enc := encodeETag(raw)
	if strings.ContainsAny(enc, "\"' /\\=+") {
		t.Fatalf("etag %q is not shell-safe", enc)
	}
	if got, err := decodeETag(enc); err != nil || got != raw {
		t.Fatalf("decode(%q) = %q, %v", enc, got, err)
	}
	for _, bad := range []string{"", "!!", "AAAA", encodeETag(azcore.ETag("W/\"x\n\"")), encodeETag(azcore.ETag("plain"))} {
		if _, err := decodeETag(bad); !errors.Is(err, model.ErrPreconditionFailed) {
			t.Fatalf("decode(%q): %v, want ErrPreconditionFailed", bad, err)
		}
	}
}

func TestContinuationsRoundTripAndRejectTampering(t *testing.T) {
	rk := orderRowKey(time.Now(), "abc")
	tok := encodeContinuation(rk)
	if got, err := decodeContinuation(tok); err != nil || got != rk {
		t.Fatalf("decode = %q, %v", got, err)
	}
	for _, bad := range []string{"x", tok[1:], tok + "A", encodeContinuation("1~"), encodeContinuation(rk[:len(rk)-1])} {
		if _, err := decodeContinuation(bad); !errors.Is(err, model.ErrInvalidContinuation) {
			t.Fatalf("decode(%q): %v, want ErrInvalidContinuation", bad, err)
		}
	}
}

// Sharded partition keys never meet each other or a legacy key: a buffer's entries
// in one shard can never be read as another shard's, or as the unsharded layout's.
func TestShardPartitionsAreDistinctFromEachOtherAndFromLegacyKeys(t *testing.T) {
	bases := []string{orderPartition, expiryPartition, tagPartition("a", "b"), tagPartition("~s00-all", "x"),
		tagPartition("s00", "all"), tagPartition(strings.Repeat("/", 200), "v"), tagPartition("k", strings.Repeat("#", 300))}
	seen := map[string]string{}
	for _, base := range bases {
		for _, sh := range readShards(MaxIndexShards) {
			pk := sh.partition(base)
			what := fmt.Sprintf("shard %d of %q", sh, base)
			if prev, ok := seen[pk]; ok {
				t.Fatalf("%s and %s share partition %q", prev, what, pk)
			}
			seen[pk] = what
			if len(pk) > 512 || strings.ContainsAny(pk, "'/\\#?") {
				t.Fatalf("%s: %q is not a safe key", what, pk)
			}
		}
	}
	if got := readShards(1); len(got) != 1 || got[0] != legacyShard {
		t.Fatalf("one shard reads %v, want only the legacy layout", got)
	}
	if got := readShards(DefaultIndexShards); len(got) != DefaultIndexShards+1 {
		t.Fatalf("%d shards read %d partitions, want %d", DefaultIndexShards, len(got), DefaultIndexShards+1)
	}
	for _, id := range []string{"a", "abc", strings.Repeat("z", 150)} {
		if shardOf(id, 1) != legacyShard || shardOf(id, 16) != shardOf(id, 16) || shardOf(id, 16) < 0 || shardOf(id, 16) >= 16 {
			t.Fatalf("shardOf(%q) is not a stable shard in range", id)
		}
	}
}
