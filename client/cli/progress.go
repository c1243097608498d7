package cli

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"spool/internal/redact"
)

// progressEvery is how often the terminal line is redrawn.
const progressEvery = 500 * time.Millisecond

// progress reports a transfer on stderr: a line redrawn in place on a terminal, and
// a one-line summary at the end either way.
type progress struct {
	out   io.Writer
	tty   bool
	verb  string // "wrote" or "read"
	total int64  // -1 when the size is not known
	start time.Time
	done  atomic.Int64

	mu      sync.Mutex // serialises writes to out
	stop    chan struct{}
	stopped sync.WaitGroup
}

func newProgress(out io.Writer, tty bool, verb string, total int64) *progress {
	p := &progress{out: out, tty: tty, verb: verb, total: total, start: time.Now(), stop: make(chan struct{})}
	if tty {
		p.stopped.Go(p.redraw)
	}
	return p
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
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty {
		fmt.Fprint(p.out, "\r\033[K")
	}
	// Warnings quote storage's answers, which can quote a request URL.
	fmt.Fprintf(p.out, "spool: warning: %s\n", redact.String(fmt.Sprintf(format, args...)))
}

func (p *progress) redraw() {
	t := time.NewTicker(progressEvery)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.mu.Lock()
			fmt.Fprintf(p.out, "\r\033[K%s", p.line(p.done.Load(), time.Since(p.start)))
			p.mu.Unlock()
		}
	}
}

// line is the running status: bytes, percent when the size is known, throughput
// and elapsed time.
func (p *progress) line(done int64, elapsed time.Duration) string {
	s := formatBytes(done)
	if p.total > 0 {
		s += fmt.Sprintf(" of %s (%.0f%%)", formatBytes(p.total), 100*float64(done)/float64(p.total))
	}
	return fmt.Sprintf("%s  %s  %s", s, formatRate(done, elapsed), elapsed.Round(time.Second))
}

// finish stops the redraw and, when the transfer succeeded, prints the summary.
func (p *progress) finish(bytes int64, err error) {
	close(p.stop)
	p.stopped.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty {
		fmt.Fprint(p.out, "\r\033[K")
	}
	if err == nil {
		fmt.Fprintln(p.out, summary(p.verb, bytes, time.Since(p.start)))
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

// formatRate is in decimal megabytes per second, as network speeds usually are.
func formatRate(n int64, elapsed time.Duration) string {
	if elapsed <= 0 {
		return "- MB/s"
	}
	mbps := float64(n) / 1e6 / elapsed.Seconds()
	if mbps < 10 {
		return fmt.Sprintf("%.1f MB/s", mbps)
	}
	return fmt.Sprintf("%.0f MB/s", mbps)
}
