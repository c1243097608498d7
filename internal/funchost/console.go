package funchost

import "strings"

// Log levels the host gives the handler's console lines.
const (
	LevelInformation = "Information"
	LevelWarning     = "Warning"
	LevelError       = "Error"
)

// StdoutLevel is the level the host logs a handler's stdout line at: always
// information (WorkerProcess.cs OnOutputDataReceived).
func StdoutLevel(string) string { return LevelInformation }

// StderrLevel is the level the host logs a handler's stderr line at
// (WorkerProcess.cs ParseErrorMessageAndLog): "warn" anywhere makes a warning;
// else "error", "fail" or "severe" anywhere an error; else information. Matching
// ignores case.
func StderrLevel(line string) string {
	l := strings.ToLower(line)
	switch {
	case strings.Contains(l, "warn"):
		return LevelWarning
	case strings.Contains(l, "error"), strings.Contains(l, "fail"), strings.Contains(l, "severe"):
		return LevelError
	}
	return LevelInformation
}
