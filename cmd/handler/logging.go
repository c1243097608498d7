package main

import (
	"context"
	"io"
	"log/slog"
)

// logOutputs are where the handler's JSON log lines go. The Functions host reads
// both of the handler's streams (WorkerProcess.cs): every stdout line is logged at
// information level; a stderr line is ranked by substring, "warn" anywhere making
// it a warning, else "error", "fail" or "severe" anywhere an error, else
// information. So an information line on stderr that mentions a failure (a sweep's
// "0 failed") would be logged as an error: information goes to stdout, and only
// warnings and errors to stderr, where their "level":"WARN"/"ERROR" ranks them.
type logOutputs struct {
	info, problems io.Writer
}

// newLogger logs JSON lines, below slog.LevelWarn to out.info, the rest to
// out.problems.
func newLogger(out logOutputs) *slog.Logger {
	return slog.New(levelSplit{
		info:     slog.NewJSONHandler(out.info, nil),
		problems: slog.NewJSONHandler(out.problems, nil),
	})
}

// levelSplit sends each record to one of two handlers by level.
type levelSplit struct {
	info, problems slog.Handler
}

func (s levelSplit) pick(level slog.Level) slog.Handler {
	if level >= slog.LevelWarn {
		return s.problems
	}
	return s.info
}

func (s levelSplit) Enabled(ctx context.Context, level slog.Level) bool {
	return s.pick(level).Enabled(ctx, level)
}

func (s levelSplit) Handle(ctx context.Context, r slog.Record) error {
	return s.pick(r.Level).Handle(ctx, r)
}

func (s levelSplit) WithAttrs(attrs []slog.Attr) slog.Handler {
	return levelSplit{info: s.info.WithAttrs(attrs), problems: s.problems.WithAttrs(attrs)}
}

func (s levelSplit) WithGroup(name string) slog.Handler {
	return levelSplit{info: s.info.WithGroup(name), problems: s.problems.WithGroup(name)}
}
