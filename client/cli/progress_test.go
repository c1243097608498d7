package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// driveProgress feeds a fake clock to a progress: every progressEvery for d, the
// byte count rate(elapsed) gives, as the ticker would.
func driveProgress(p *progress, start time.Time, d time.Duration, bytesAt func(time.Duration) int64) {
	for elapsed := progressEvery; elapsed <= d; elapsed += progressEvery {
		p.update(bytesAt(elapsed))
		p.tick(start.Add(elapsed))
	}
}

// fastThenSlow is 10 MB/s for 5 s, then 1 MB/s: at 10 s, 55 MB, of which the last
// 5 s brought 5 MB.
func fastThenSlow(elapsed time.Duration) int64 {
	s := elapsed.Seconds()
	if s <= 5 {
		return int64(s * 10e6)
	}
	return int64(50e6 + (s-5)*1e6)
}

func TestProgressShowsTheRecentRateAndAnETAWhenTheSizeIsKnown(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name      string
		tty       bool
		total     int64
		wantLines []string // what is printed before the summary, in order
	}{
		{"terminal, known size", true, 100e6, []string{"\r\033[K52.5 MiB of 95.4 MiB (55%)  1.0 MB/s  10s  ETA 45s"}},
		{"terminal, unknown size", true, -1, []string{"\r\033[K52.5 MiB  1.0 MB/s  10s"}},
		{"not a terminal, known size", false, 100e6, []string{
			"wrote 52.5 MiB of 95.4 MiB (55%)  1.0 MB/s  10s  ETA 45s\n",
			"wrote 62.0 MiB of 95.4 MiB (65%)  1.0 MB/s  20s  ETA 35s\n"}},
		{"not a terminal, unknown size", false, -1, []string{
			"wrote 52.5 MiB  1.0 MB/s  10s\n",
			"wrote 62.0 MiB  1.0 MB/s  20s\n"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			p := newProgressAt(&buf, tc.tty, "wrote", tc.total, start)
			driveProgress(p, start, 10*time.Second, fastThenSlow)
			if tc.tty {
				// The average since the start would be 5.5 MB/s and an ETA of 8 s.
				if !strings.HasSuffix(buf.String(), tc.wantLines[0]) {
					t.Fatalf("last redraw at 10 s: %q", lastRedraw(buf.String()))
				}
				return
			}
			driveProgress(p, start.Add(10*time.Second), 10*time.Second, func(e time.Duration) int64 { return fastThenSlow(10*time.Second + e) })
			p.finishAt(fastThenSlow(20*time.Second), nil, start.Add(20*time.Second))
			want := strings.Join(tc.wantLines, "") + "wrote 62.0 MiB in 20s (3.2 MB/s)\n"
			if buf.String() != want {
				t.Fatalf("output\n%q\nwant\n%q", buf.String(), want)
			}
		})
	}
}

func lastRedraw(out string) string {
	return out[strings.LastIndex(out, "\r"):]
}

func TestProgressOnATerminalShowsNoETAWhileNothingMoves(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var buf bytes.Buffer
	p := newProgressAt(&buf, true, "read", 100, start)
	driveProgress(p, start, 10*time.Second, func(time.Duration) int64 { return 40 })
	if got := lastRedraw(buf.String()); got != "\r\033[K40 B of 100 B (40%)  0.0 MB/s  10s" {
		t.Fatalf("a stalled transfer: %q", got)
	}
	p.finishAt(40, errStalled, start.Add(10*time.Second))
	if !strings.HasSuffix(buf.String(), "10s\r\033[K") {
		t.Fatalf("a failed transfer leaves its status line: %q", buf.String())
	}
}

func TestProgressOffATerminalPrintsNoLineWhileNothingMoves(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var buf bytes.Buffer
	p := newProgressAt(&buf, false, "wrote", -1, start)
	driveProgress(p, start, 30*time.Second, func(e time.Duration) int64 { return min(int64(e/time.Second), 12) })
	if buf.String() != "wrote 10 B  0.0 MB/s  10s\nwrote 12 B  0.0 MB/s  20s\n" {
		t.Fatalf("output %q", buf.String())
	}
}

var errStalled = bytes.ErrTooLarge // any error: a failed transfer

func TestSilentProgressPrintsOnlyWarningsItIsAllowedTo(t *testing.T) {
	for _, tc := range []struct {
		level logLevel
		want  string
	}{
		{levelWarn, "spool: warning: retrying\n"},
		{levelError, ""},
	} {
		var buf bytes.Buffer
		a := &app{stderr: &buf, level: tc.level}
		p := a.newTransferProgress("wrote", 10)
		p.update(10)
		p.tick(time.Now().Add(time.Hour))
		p.logf("retrying")
		p.finish(10, nil)
		if buf.String() != tc.want {
			t.Errorf("level %d: %q, want %q", tc.level, buf.String(), tc.want)
		}
	}
}
