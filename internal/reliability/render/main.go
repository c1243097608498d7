// Command render turns the rows tests recorded (SPOOL_RELIABILITY_OUT) into
// RELIABILITY.md: `go run ./internal/reliability/render -in rows.jsonl -out RELIABILITY.md`.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"

	"spool/internal/reliability"
)

func main() {
	in := flag.String("in", "", "the JSON-lines `file` the tests appended rows to")
	out := flag.String("out", "RELIABILITY.md", "the Markdown `file` to write")
	by := flag.String("generated-by", "make reliability", "the command named as the report's source")
	flag.Parse()
	if err := render(*in, *out, *by); err != nil {
		fmt.Fprintln(os.Stderr, "render:", err)
		os.Exit(1)
	}
}

func render(in, out, by string) error {
	if in == "" {
		return fmt.Errorf("-in is required")
	}
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	rows, err := reliability.ReadRows(f)
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	if len(rows) == 0 {
		return fmt.Errorf("%s holds no rows: were the tests run with %s set?", in, reliability.EnvOut)
	}
	var md bytes.Buffer
	if err := reliability.WriteMarkdown(&md, rows, by); err != nil {
		return err
	}
	// Write beside the target and rename, so a failed run never leaves half a report.
	tmp := out + ".tmp"
	if err := os.WriteFile(tmp, md.Bytes(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, out)
}
