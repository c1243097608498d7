package transfer

import (
	"crypto/md5"
	"encoding/base64"
	"testing"
)

func TestBlobPathMatchesTygerLayout(t *testing.T) {
	cases := []struct {
		n    int64
		want string
	}{
		{0x0, "00/000"},
		{0xFFF, "00/FFF"},
		{0x1000, "01/000"},
		{0x1FFF, "01/FFF"},
		{0x2000, "02/00/000"},
		{0x2010, "02/00/010"},
		{0x3FFF, "02/01/FFF"},
		{0x4000, "03/00/000"},
		{0x5321, "03/01/321"},
		{0x7FFF, "03/03/FFF"},
		{0xFFFFF, "08/7F/FFF"},
		{0x1FFFFF, "09/FF/FFF"},
		{0x200000, "0A/00/00/000"},
		{0x10102345, "11/01/02/345"},
		{0x1FFFFFFF, "11/FF/FF/FFF"},
		{0x20000000, "12/00/00/00/000"},
		{0x7FFFFFFFFFFFFFFF, "33/03/FF/FF/FF/FF/FF/FF/FFF"},
	}
	for _, c := range cases {
		if got := BlobPath(c.n); got != c.want {
			t.Errorf("BlobPath(%#x) = %q, want %q", c.n, got, c.want)
		}
	}
}

func TestHashChainOfHelloMatchesWorkedExample(t *testing.T) {
	md5Hello := ContentMD5([]byte("Hello"))
	if md5Hello != "ixqZU8RhEpaoJ6v4xHgE1w==" {
		t.Fatalf("MD5(Hello) = %s", md5Hello)
	}
	c0 := NextHashChain(InitialHashChain, md5Hello)
	if c0 != "Be2sTc2k0VLW0/rZazR8uFCREuD5k1d9OtCAk14ns4U=" {
		t.Fatalf("chain 0 = %s", c0)
	}
	c1 := NextHashChain(c0, ContentMD5(nil))
	if c1 != "LV4PrI5mIT9mYkXErCiaIwlu8B8xxyHjH0UKfSKNt2w=" {
		t.Fatalf("chain 1 = %s", c1)
	}
}

func TestHashChainOfEmptyInputMatchesSpec(t *testing.T) {
	if got := NextHashChain(InitialHashChain, ContentMD5(nil)); got != "IBhjC6CulKsIAVImvFwU+NvluDHEN8fuYcdiV4ufDro=" {
		t.Fatalf("empty chain = %s", got)
	}
}

func TestMetadataBodiesHaveSpecMD5s(t *testing.T) {
	for body, want := range map[string]string{
		string(startBlobBody):   "jRl6v+tdX5RbfseHVtVXDw==",
		string(endBlobComplete): "dDGK6tOTr1krU6jOyYJ/Rw==",
		string(endBlobFailed):   "l4FjUUeaw1N1wQ5zVGyUWQ==",
	} {
		if got := ContentMD5([]byte(body)); got != want {
			t.Errorf("MD5(%s) = %s, want %s", body, got, want)
		}
	}
}

func TestSIMDHasherAgreesWithCryptoMD5(t *testing.T) {
	h := newMD5Hasher(16)
	defer h.close()
	data := genData(0, 3<<20+7)
	got := h.sumInLane(data)
	want := md5.Sum(data)
	if got != want {
		t.Fatalf("md5-simd %s != crypto/md5 %s", base64.StdEncoding.EncodeToString(got[:]), base64.StdEncoding.EncodeToString(want[:]))
	}
}
