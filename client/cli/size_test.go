package cli

import (
	"strings"
	"testing"
)

func TestParseSizeUsesBase2UnitsWithTygersRules(t *testing.T) {
	cases := []struct {
		in   string
		want int64
	}{
		{"0", 0},
		{"10", 10},
		{"1K", 1024},
		{"1KB", 1024},
		{"1KiB", 1024},
		{"512K", 512 << 10},
		{"16M", 16 << 20},
		{"1.5M", 1572864},
		{"4MiB", 4 << 20},
		{"1G", 1 << 30},
		{"10GB", 10 << 30},
		{"1T", 1 << 40},
		{"0.5K", 512},
		{".25M", 256 << 10},
		{"2.0", 2},
		{"1.5KiB", 1536},
	}
	for _, tc := range cases {
		got, err := parseSize(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
}

func TestParseSizeRejectsWhatTygerRejects(t *testing.T) {
	for _, in := range []string{"", "abc", "1k", "16m", "1G512M", "1 G", "-1", "-5M", "M", "1.5", "0.1K", "1.0000001G"} {
		if n, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) = %d, want an error", in, n)
		}
	}
}

func TestParseBlockSizeRejectsZero(t *testing.T) {
	if _, err := parseBlockSize("0"); err == nil {
		t.Error("block size 0 accepted")
	}
	if n, err := parseBlockSize("7"); err != nil || n != 7 {
		t.Errorf("parseBlockSize(7) = %d, %v", n, err)
	}
}

func TestParseBlockSizeRefusesMoreThanOneBlobCanHold(t *testing.T) {
	if n, err := parseBlockSize("4000M"); err != nil || n != 4000<<20 {
		t.Errorf("parseBlockSize(4000M) = %d, %v", n, err)
	}
	if _, err := parseBlockSize("4001M"); err == nil || !strings.Contains(err.Error(), "at most 4000M") {
		t.Errorf("parseBlockSize(4001M): %v", err)
	}
}
