package cli

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/term"

	"spool/client"
	"spool/internal/model"
)

// ttlFlag defines --ttl, a lifetime in the API's TimeSpan grammar
// (model.ParseTimeSpan), the one the server reads.
func ttlFlag(fs *pflag.FlagSet, usage string) *string {
	return fs.String("ttl", "", usage)
}

// expiryFrom turns a given --ttl into an expiry time counted from now (on this
// machine's clock, as Tyger's CLI does); nil when --ttl was not given.
func expiryFrom(fs *pflag.FlagSet, ttl string) (*time.Time, error) {
	if !fs.Changed("ttl") {
		return nil, nil
	}
	d, err := client.ParseTTL(ttl)
	if err != nil {
		return nil, usagef("", "--ttl: %v", err)
	}
	at := time.Now().Add(d).UTC()
	return &at, nil
}

// checkAccessTTL refuses locally an --access-ttl the server would refuse, with the
// server's message; empty asks for the server's default.
func checkAccessTTL(s string) error {
	if s == "" {
		return nil
	}
	if _, err := model.ParseAccessTTL(s); err != nil {
		return usagef("", "--access-ttl: %v", err)
	}
	return nil
}

// lifecycleCommand is delete, restore or purge: of the buffers named by ID, or of all
// buffers a tag filter selects (or --all) after a confirmation.
func lifecycleCommand(op client.Operation) command {
	about := map[client.Operation]string{
		client.Delete: `Soft-deletes buffers: they disappear from show, list and access, and can be
brought back with 'spool buffer restore' until they are purged (after a day, by
default; 'spool buffer purge' purges them now).`,
		client.Restore: `Brings soft-deleted buffers back. A restored buffer keeps the expiry it had
before it was deleted; if that moment passed meanwhile, it gets a day from now.`,
		client.Purge: `Removes soft-deleted buffers for good: the server's sweep deletes their data and
records within about a minute. There is no way back.`,
	}[op]
	return command{
		name:    op.String(),
		args:    "(ID... | --tag KEY=VALUE... | --all) [--exclude-tag KEY=VALUE]... [--force]",
		summary: map[client.Operation]string{client.Delete: "soft-delete buffers", client.Restore: "restore soft-deleted buffers", client.Purge: "purge soft-deleted buffers for good"}[op],
		about: about + `

Name the buffers by ID, or select them with --tag (every pair must match) or
--all, less any with an --exclude-tag pair. A selection asks for confirmation,
showing how many buffers it holds, unless --force is given; without a terminal to
ask on, --force is required.

Prints {"count": N, "buffers": [...]} as JSON: the number of buffers changed and,
for buffers named by ID, their records (a selection gives the count alone, as the
server reports no more).`,
		example: fmt.Sprintf("  spool buffer %s yf4sx2aqzitepjhmxjhanomn5e\n  spool buffer %s --tag run=42 --exclude-tag keep=yes --force", op, op),
		flags: func(a *app, fs *pflag.FlagSet) func(context.Context, []string) error {
			tags := tagFlag(fs, "tag", "select buffers with this tag, `KEY=VALUE`; repeatable, or comma-separated")
			exclude := tagFlag(fs, "exclude-tag", "leave out buffers with this tag, `KEY=VALUE`; repeatable")
			all := fs.Bool("all", false, "select every buffer")
			force := fs.Bool("force", false, "do not ask for confirmation")
			return func(ctx context.Context, args []string) error {
				sel, err := selection(args, *tags, *exclude, *all)
				if err != nil {
					return err
				}
				c, err := a.client()
				if err != nil {
					return err
				}
				if len(args) > 0 {
					return a.applyToIDs(ctx, c, op, args)
				}
				return a.applyToSelection(ctx, c, op, sel, *force)
			}
		},
	}
}

// selection checks that exactly one of IDs, --tag or --all names the buffers, and
// returns the tag filter when it is not IDs.
func selection(ids []string, tags, exclude map[string]string, all bool) (client.ListOptions, error) {
	given := 0
	for _, g := range []bool{len(ids) > 0, len(tags) > 0, all} {
		if g {
			given++
		}
	}
	if given != 1 {
		return client.ListOptions{}, usagef("", "give exactly one of: buffer IDs, --tag KEY=VALUE, or --all")
	}
	if len(ids) > 0 && len(exclude) > 0 {
		return client.ListOptions{}, usagef("", "--exclude-tag applies to --tag or --all, not to buffer IDs")
	}
	for _, id := range ids {
		if err := client.ValidateID(id); err != nil {
			return client.ListOptions{}, usagef("", "%v", err)
		}
	}
	return checkedFilter(tags, exclude)
}

// lifecycleResult is what delete, restore and purge print, whichever way the
// buffers were named: the count changed and, for buffers named by ID, their
// records. A --tag or --all selection has no records: the server's bulk change
// answers only a count.
type lifecycleResult struct {
	Count   int            `json:"count"`
	Buffers []model.Buffer `json:"buffers,omitempty"`
}

// applyToIDs handles IDs one at a time, stopping at the first failure, and prints
// the ones done.
func (a *app) applyToIDs(ctx context.Context, c *client.Client, op client.Operation, ids []string) error {
	var done []model.Buffer
	for _, id := range ids {
		b, err := c.Apply(ctx, op, id)
		if err != nil {
			if len(done) > 0 {
				_ = a.printJSON(lifecycleResult{Count: len(done), Buffers: done})
			}
			return err
		}
		done = append(done, b)
	}
	return a.printJSON(lifecycleResult{Count: len(done), Buffers: done})
}

func (a *app) applyToSelection(ctx context.Context, c *client.Client, op client.Operation, sel client.ListOptions, force bool) error {
	if !force {
		n, err := c.CountFor(ctx, op, sel)
		if err != nil {
			return fmt.Errorf("counting the buffers to %s: %w", op, err)
		}
		if n == 0 {
			return a.printJSON(lifecycleResult{})
		}
		ok, err := a.confirm(fmt.Sprintf("Are you sure you want to %s %d buffers? [y/N] ", op, n))
		if err != nil || !ok {
			return err
		}
	}
	n, err := c.ApplyAll(ctx, op, sel)
	if err != nil {
		return err
	}
	return a.printJSON(lifecycleResult{Count: n})
}

// confirm asks a yes/no question on stderr and reads the answer from stdin; only
// "y" or "yes" is a yes. It refuses to ask without a terminal, so a script cannot
// answer by accident (piped data, /dev/null): scripts pass --force.
func (a *app) confirm(question string) (bool, error) {
	f, isFile := a.stdin.(*os.File)
	if !a.answersFromStdin && (!isFile || !term.IsTerminal(int(f.Fd()))) {
		return false, usagef("", "stdin is not a terminal, so there is no one to confirm; pass --force to go ahead")
	}
	fmt.Fprint(a.stderr, question)
	answer, err := bufio.NewReader(a.stdin).ReadString('\n')
	if err != nil && answer == "" {
		return false, fmt.Errorf("reading the answer: %w", err)
	}
	switch strings.ToLower(strings.TrimSpace(answer)) {
	case "y", "yes":
		return true, nil
	}
	a.notef("Nothing was changed.")
	return false, nil
}
