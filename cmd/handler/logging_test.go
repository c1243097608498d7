package main

import (
	"bytes"
	"strings"
	"testing"

	"spool/internal/funchost"
)

func TestTheHostLogsEachHandlerLineAtItsOwnLevel(t *testing.T) {
	var stdout, stderr bytes.Buffer
	log := newLogger(logOutputs{info: &stdout, problems: &stderr})
	log.Info("sweep done", "report", "sweep: 0 soft-deleted, 0 purged, 0 failed", "err", "no error")
	log.Debug("not logged")
	log.Warn("storage unavailable", "err", "connection refused")
	log.Error("request failed", "err", "boom")
	want := map[string]string{
		"sweep done":          funchost.LevelInformation,
		"storage unavailable": funchost.LevelWarning,
		"request failed":      funchost.LevelError,
	}
	got := map[string]string{}
	for l := range strings.Lines(stdout.String()) {
		got[msgOf(l)] = funchost.StdoutLevel(l)
	}
	for l := range strings.Lines(stderr.String()) {
		got[msgOf(l)] = funchost.StderrLevel(l)
	}
	if len(got) != len(want) {
		t.Errorf("lines: stdout %q, stderr %q", stdout.String(), stderr.String())
	}
	for msg, level := range want {
		if got[msg] != level {
			t.Errorf("%q: the host logs it at %q, want %q", msg, got[msg], level)
		}
	}
}

func msgOf(line string) string {
	_, rest, _ := strings.Cut(line, `"msg":"`)
	msg, _, _ := strings.Cut(rest, `"`)
	return msg
}
