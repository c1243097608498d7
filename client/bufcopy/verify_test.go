package bufcopy

import (
	"strings"
	"testing"

	"spool/client/transfer"
)

// chained gives the blobs of a buffer holding the given data blobs and the empty
// terminal one, as storage would describe them.
func chained(blobs ...string) []blobInfo {
	var infos []blobInfo
	chain := transfer.InitialHashChain
	for _, b := range append(blobs, "") {
		md5 := transfer.ContentMD5([]byte(b))
		chain = transfer.NextHashChain(chain, md5)
		infos = append(infos, blobInfo{exists: true, size: int64(len(b)), md5: md5, chain: chain})
	}
	return infos
}

func TestVerifyChainAcceptsAWholeCopyAndNamesTheFirstBrokenBlob(t *testing.T) {
	if err := verifyChain(chained("Hello", "world")); err != nil {
		t.Fatalf("a whole chain: %v", err)
	}
	swapped := chained("Hello", "world")
	swapped[0], swapped[1] = swapped[1], swapped[0]
	truncated := chained("Hello", "world")[:2]
	for name, tc := range map[string]struct {
		infos []blobInfo
		want  string
	}{
		"blobs out of order": {swapped, "breaks at blob 00/000"},
		"no terminal blob":   {truncated, "no terminal empty blob"},
		"nothing":            {nil, "no terminal empty blob"},
	} {
		t.Run(name, func(t *testing.T) {
			if err := verifyChain(tc.infos); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error saying %q", err, tc.want)
			}
		})
	}
}

func TestSameContentNeedsSizeMD5AndChainToMatch(t *testing.T) {
	a := chained("Hello")[0]
	for name, change := range map[string]func(*blobInfo){
		"size":    func(b *blobInfo) { b.size++ },
		"md5":     func(b *blobInfo) { b.md5 = transfer.ContentMD5([]byte("x")) },
		"chain":   func(b *blobInfo) { b.chain = "" },
		"missing": func(b *blobInfo) { b.exists = false },
	} {
		b := a
		change(&b)
		if a.sameContent(b) {
			t.Errorf("blobs differing in %s count as the same", name)
		}
	}
	if !a.sameContent(a) {
		t.Error("a blob differs from itself")
	}
}
