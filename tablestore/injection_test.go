package tablestore_test

import (
	"testing"

	"spool/internal/model"
	"spool/internal/reliability"
	"spool/internal/storetest"
	"spool/tablestore"
)

// The handler refuses tags with quotes, so these reach the store only here: the
// store must still treat them as plain text, never as part of a Table query.
func TestTagFiltersWithODataInjectionMatchOnlyTheLiteralTag(t *testing.T) {
	t.Parallel()
	s := newStore(t, tablestore.Options{})
	const inj = "x' or PartitionKey ne 'x"
	quoted := insert(t, s, base, map[string]string{"k": inj})
	keyQuoted := insert(t, s, base.Add(1), map[string]string{inj: "1"})
	plain := insert(t, s, base.Add(2), map[string]string{"k": "x", "x": "1"})
	other := insert(t, s, base.Add(3), map[string]string{"other": "1"})
	cases := []struct {
		name string
		f    model.Filter
		want []model.Buffer
	}{
		{"value", model.Filter{Tags: map[string]string{"k": inj}}, []model.Buffer{quoted}},
		{"key", model.Filter{Tags: map[string]string{inj: "1"}}, []model.Buffer{keyQuoted}},
		{"value that closes the quote", model.Filter{Tags: map[string]string{"k": "x'"}}, nil},
		{"lone quote", model.Filter{Tags: map[string]string{"k": "'"}}, nil},
		{"always-true tail", model.Filter{Tags: map[string]string{"k": "' or '1' eq '1"}}, nil},
		{"exclude", model.Filter{ExcludeTags: map[string]string{"k": inj}}, []model.Buffer{keyQuoted, plain, other}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { storetest.ExpectSelected(t, s, c.f, c.want...) })
	}
	reliability.Record(t, reliability.Row{
		Area:    "bad input",
		Fault:   "OData injection reaching the store directly (tag keys and values with quotes, bypassing handler validation), against Azurite",
		Tries:   2 * len(cases),
		Outcome: "each filter lists and counts exactly the buffers with that literal tag; no query widened",
	})
}
