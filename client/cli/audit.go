package cli

import (
	"context"
	"fmt"

	"github.com/spf13/pflag"
)

// defaultAuditMax is how many grants `spool buffer audit` prints without --limit.
const defaultAuditMax = 100

func auditCommand() command {
	return command{
		name:    "audit",
		args:    "ID [--limit N]",
		summary: "print who was given access URLs for a buffer, as a JSON array",
		about: fmt.Sprintf(`Prints the buffer's audit trail, newest first, as a JSON array: one entry per
access URL the server handed out, with when, read or write, until when, and who
asked for it (the signed-in caller's object ID, app ID and user name, or "function
key" on a server that signs nobody in). Without --limit at most %d entries are
printed, with a warning on stderr when there are more. On a server that signs
callers in, reading the trail takes the owner role. The trail outlives the buffer.`, defaultAuditMax),
		example: "  spool buffer audit yf4sx2aqzitepjhmxjhanomn5e --limit 10",
		flags: func(a *app, fs *pflag.FlagSet) func(context.Context, []string) error {
			limit := fs.IntP("limit", "l", defaultAuditMax, "print at most `N` entries")
			return func(ctx context.Context, args []string) error {
				if *limit < 1 {
					return usagef("", "--limit must be a positive integer, got %d", *limit)
				}
				c, err := a.clientForID(args)
				if err != nil {
					return err
				}
				grants, truncated, err := c.AuditTrail(ctx, args[0], *limit)
				if err != nil {
					return err
				}
				if err := a.printJSON(grants); err != nil {
					return err
				}
				if truncated && !fs.Changed("limit") {
					fmt.Fprintf(a.stderr, "spool: warning: the output was truncated to %d entries; use --limit to see more\n", *limit)
				}
				return nil
			}
		},
	}
}
