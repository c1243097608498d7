package tablestore

import (
	"strings"
	"testing"
	"time"
)

// unquoteOData reads one OData string literal that must make up all of lit: a quote,
// text in which a quote appears only doubled, and a closing quote. ok is false when
// lit holds anything else, such as a second literal or an operator after the first.
func unquoteOData(lit string) (s string, ok bool) {
	if len(lit) < 2 || lit[0] != '\'' || lit[len(lit)-1] != '\'' {
		return "", false
	}
	inner := lit[1 : len(lit)-1]
	var b strings.Builder
	for i := 0; i < len(inner); i++ {
		if inner[i] != '\'' {
			b.WriteByte(inner[i])
			continue
		}
		if i+1 == len(inner) || inner[i+1] != '\'' {
			return "", false // a lone quote would end the literal early
		}
		b.WriteByte('\'')
		i++
	}
	return b.String(), true
}

// The only user text that reaches a Table query is a tag pair (as an index partition
// key) and a continuation position. Whatever the text, the query stays one literal.
func FuzzODataQuote(f *testing.F) {
	for _, s := range []string{"", "'", "''", "x' or PartitionKey ne 'x", "a'b'c", "' or 1 eq 1 or '", "\x00", "é'"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		lit := odataQuote(s)
		back, ok := unquoteOData(lit)
		if !ok || back != s {
			t.Fatalf("odataQuote(%q) = %s, which reads back as %q (ok %v)", s, lit, back, ok)
		}
	})
}

// A tag partition key is escaped before it is quoted: it holds no quote at all, and
// distinct tag pairs get distinct partitions, so a crafted pair can neither reach
// into the query nor read another pair's index.
func FuzzTagPartition(f *testing.F) {
	for _, kv := range [][4]string{
		{"x' or PartitionKey ne 'x", "1", "x", "1"},
		{"k", "x' or PartitionKey ne 'x", "k", "x"},
		{"a=b", "c", "a", "b=c"},
		{"a", "~41", "a", "A"},
		{strings.Repeat("k", 300), "v", strings.Repeat("k", 299), "kv"},
	} {
		f.Add(kv[0], kv[1], kv[2], kv[3])
	}
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		p1, p2 := tagPartition(k1, v1), tagPartition(k2, v2)
		for _, p := range []string{p1, p2} {
			if strings.ContainsAny(p, "'/\\#?") || len(p) > 512 {
				t.Fatalf("partition %q is not a safe table key", p)
			}
			for _, c := range []byte(p) {
				if c < 0x20 || c > 0x7e {
					t.Fatalf("partition %q holds byte %#x", p, c)
				}
			}
		}
		if (k1 != k2 || v1 != v2) && p1 == p2 && !strings.HasPrefix(p1, "~h") {
			t.Fatalf("%q=%q and %q=%q share partition %q", k1, v1, k2, v2, p1)
		}
	})
}

// Continuation tokens come back from clients: any text either decodes to a valid
// index position, which encodes back to an equivalent token, or is refused.
func FuzzDecodeContinuation(f *testing.F) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	f.Add(encodeContinuation(orderRowKey(now, "aaaaaaaaaaaaaaaaaaaaaaaaaa")))
	f.Add(encodeContinuation(orderRowKey(minCreatedAt, "x")))
	for _, s := range []string{"", "bm9wZQ", "%%%", "eyJ2IjoxLCJhZnRlciI6IngifQ", "eyJ2IjoxLCJhZnRlciI6IjAwMDAwMDAwMDAwMDAwMDAwMDAifg", "eyJ2IjoyfQ", "bnVsbA"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, token string) {
		after, err := decodeContinuation(token)
		if err != nil {
			if after != "" {
				t.Fatalf("refused %q but returned %q", token, after)
			}
			return
		}
		if _, err := parseOrderRowKey(after); err != nil {
			t.Fatalf("accepted %q with the invalid position %q: %v", token, after, err)
		}
		if strings.ContainsAny(after, "'") {
			t.Fatalf("accepted %q with a quote in the position %q", token, after)
		}
		again, err := decodeContinuation(encodeContinuation(after))
		if err != nil || again != after {
			t.Fatalf("position %q does not round-trip: %q, %v", after, again, err)
		}
	})
}
