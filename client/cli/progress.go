package cli

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"spool/internal/redact"
)

// The progress is hand-written rather than built on a progress-bar library
// (mpb, progressbar): spool draws one status line, and what it needs beyond that
// (a plain periodic line when stderr is not a terminal, warnings and debug lines
// printed between redraws, a rendering that a test drives with its own clock) is
// what those libraries make awkward, while the whole of it is this file.
const (
	// progressEvery is how often the rate is sampled and the terminal line redrawn.
	progressEvery = 500 * time.Millisecond
	// plainEvery is how often a status line is printed when stderr is not a terminal.
	plainEvery = 10 * time.Second
	// rateWindow is how far back the shown rate looks, so it follows a transfer that
	// speeds up or stalls rather than averaging over the whole run.
	rateWindow = 5 * time.Second
)

// progress reports a transfer on stderr: a line redrawn in place on a terminal, a
// plain line every plainEvery otherwise, and a one-line summary at the end either
// way. A silent progress (--quiet, --log-level warn or error) prints only warnings
// and only when warnings is set.
type progress struct {
	out      io.Writer
	tty      bool
	silent   bool
	warnings bool
	verb     string // "wrote" or "read"
	total    int64  // -1 when the size is not known
	start    time.Time
	done     atomic.Int64

	mu        sync.Mutex // serialises writes to out, and guards samples and lastPlain
	samples   []sample   // the last rateWindow of (time, bytes) readings
	lastPlain time.Time
	// plainBytes is the count the last plain line showed: a transfer that has not
	// moved since prints no new line (its warnings say what it waits for).
	plainBytes int64
	stop       chan struct{}
	stopped    sync.WaitGroup
}

type sample struct {
	at    time.Time
	bytes int64
}

// newProgress starts reporting a transfer of total bytes (-1: unknown) on out.
func newProgress(out io.Writer, tty bool, verb string, total int64) *progress {
	p := newProgressAt(out, tty, verb, total, time.Now())
	p.stopped.Go(p.run)
	return p
}

// newProgressAt is newProgress without the ticker: a test drives it with tick.
func newProgressAt(out io.Writer, tty bool, verb string, total int64, start time.Time) *progress {
	return &progress{out: out, tty: tty, warnings: true, verb: verb, total: total,
		start: start, lastPlain: start, stop: make(chan struct{})}
}

// update takes a running total. Transfer goroutines call it concurrently, so a
// smaller total can arrive after a larger one; the largest wins.
func (p *progress) update(total int64) {
	for {
		cur := p.done.Load()
		if total <= cur || p.done.CompareAndSwap(cur, total) {
			return
		}
	}
}

// logf prints a warning from the transfer engine on its own line.
func (p *progress) logf(format string, args ...any) {
	if p.warnings {
		// Warnings quote storage's answers, which can quote a request URL.
		p.printLine("spool: warning: " + redact.String(fmt.Sprintf(format, args...)))
	}
}

// printLine prints a line of its own between redraws of the status line.
func (p *progress) printLine(line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearStatus()
	fmt.Fprintln(p.out, line)
}

// clearStatus removes the status line from the terminal; p.mu is held.
func (p *progress) clearStatus() {
	if p.tty {
		fmt.Fprint(p.out, "\r\033[K")
	}
}

func (p *progress) run() {
	t := time.NewTicker(progressEvery)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case now := <-t.C:
			p.tick(now)
		}
	}
}

// tick samples the running total and shows it: redrawn on a terminal, as a plain
// line every plainEvery otherwise, while bytes move.
func (p *progress) tick(now time.Time) {
	if p.silent {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	done := p.done.Load()
	p.samples = append(p.samples, sample{at: now, bytes: done})
	for len(p.samples) > 2 && now.Sub(p.samples[1].at) >= rateWindow {
		p.samples = p.samples[1:]
	}
	switch {
	case p.tty:
		fmt.Fprintf(p.out, "\r\033[K%s", p.line(done, now.Sub(p.start)))
	case now.Sub(p.lastPlain) >= plainEvery && done != p.plainBytes:
		fmt.Fprintf(p.out, "%s %s\n", p.verb, p.line(done, now.Sub(p.start)))
		p.lastPlain, p.plainBytes = now, done
	}
}

// line is the running status: bytes, percent when the size is known, the recent
// rate, elapsed time, and an ETA when the size and a recent rate are known.
func (p *progress) line(done int64, elapsed time.Duration) string {
	s := formatBytes(done)
	if p.total > 0 {
		s += fmt.Sprintf(" of %s (%.0f%%)", formatBytes(p.total), 100*float64(done)/float64(p.total))
	}
	rate, recent := p.recentRate()
	if !recent {
		rate = bytesPerSecond(done, elapsed)
	}
	s = fmt.Sprintf("%s  %s  %s", s, formatMBps(rate), elapsed.Round(time.Second))
	if eta, ok := p.eta(done, rate, recent); ok {
		s += "  ETA " + eta.String()
	}
	return s
}

// recentRate is the rate over the samples of the last rateWindow; p.mu is held.
func (p *progress) recentRate() (float64, bool) {
	if len(p.samples) < 2 {
		return 0, false
	}
	first, last := p.samples[0], p.samples[len(p.samples)-1]
	return bytesPerSecond(last.bytes-first.bytes, last.at.Sub(first.at)), true
}

func (p *progress) eta(done int64, rate float64, recent bool) (time.Duration, bool) {
	if !recent || p.total <= 0 || rate <= 0 || done > p.total {
		return 0, false
	}
	seconds := float64(p.total-done) / rate
	return time.Duration(seconds * float64(time.Second)).Round(time.Second), true
}

// finish stops the redraw and, when the transfer succeeded, prints the summary.
func (p *progress) finish(bytes int64, err error) {
	p.finishAt(bytes, err, time.Now())
}

func (p *progress) finishAt(bytes int64, err error, now time.Time) {
	close(p.stop)
	p.stopped.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.silent {
		return
	}
	p.clearStatus()
	if err == nil {
		fmt.Fprintln(p.out, summary(p.verb, bytes, now.Sub(p.start)))
	}
}

// summary reads like "wrote 1.0 GiB in 4.2s (245 MB/s)".
func summary(verb string, bytes int64, elapsed time.Duration) string {
	return fmt.Sprintf("%s %s in %s (%s)", verb, formatBytes(bytes), formatElapsed(elapsed), formatRate(bytes, elapsed))
}

func formatElapsed(d time.Duration) string {
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(100 * time.Millisecond).String()
}

// formatBytes uses base-2 units, as sizes on the command line do.
func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// bytesPerSecond is -1 when no time has passed.
func bytesPerSecond(n int64, elapsed time.Duration) float64 {
	if elapsed <= 0 {
		return -1
	}
	return float64(n) / elapsed.Seconds()
}

// formatRate is in decimal megabytes per second, as network speeds usually are.
func formatRate(n int64, elapsed time.Duration) string {
	return formatMBps(bytesPerSecond(n, elapsed))
}

func formatMBps(bytesPerSecond float64) string {
	if bytesPerSecond < 0 {
		return "- MB/s"
	}
	mbps := bytesPerSecond / 1e6
	if mbps < 10 {
		return fmt.Sprintf("%.1f MB/s", mbps)
	}
	return fmt.Sprintf("%.0f MB/s", mbps)
}
