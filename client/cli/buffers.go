package cli

import (
	"context"
	"fmt"
	"maps"

	"github.com/spf13/pflag"

	"spool/client"
)

// defaultListMax is how many buffers list prints when no --limit is given.
const defaultListMax = 1000

// tagFlag defines a repeatable KEY=VALUE flag; values may also be comma-separated
// lists, as in Tyger's CLI.

// tagRules is the rule every tag obeys (internal/model checks it on both sides), for
// the help of the commands that set tags.
const tagRules = `Tags: KEY is 1-128 and VALUE 0-256 ASCII letters, digits, '.', '_' or '-' (no
spaces, no commas, no other characters); a buffer carries at most 100 tags.`

func tagFlag(fs *pflag.FlagSet, name, usage string) *map[string]string {
	return fs.StringToString(name, nil, usage)
}

// checkedTags validates a tag flag's pairs with the server's rules.
func checkedTags(flag string, tags map[string]string) (map[string]string, error) {
	if err := client.ValidateTags(tags); err != nil {
		return nil, usagef("", "--%s: %v", flag, err)
	}
	return maps.Clone(tags), nil
}

// checkedFilter validates the --tag and --exclude-tag pairs of a selection.
func checkedFilter(tags, exclude map[string]string) (client.ListOptions, error) {
	t, err := checkedTags("tag", tags)
	if err != nil {
		return client.ListOptions{}, err
	}
	x, err := checkedTags("exclude-tag", exclude)
	if err != nil {
		return client.ListOptions{}, err
	}
	return client.ListOptions{Tags: t, ExcludeTags: x}, nil
}

// clientForID checks that the only argument is there (a buffer ID, checked by the
// client) and returns the client.
func (a *app) clientForID(args []string) (*client.Client, error) {
	if err := wantArgs(args, 1, "the buffer ID"); err != nil {
		return nil, err
	}
	return a.client()
}

// recordChange reads the --tag and --ttl of create and set, and returns the client
// to send them with.
func (a *app) recordChange(fs *pflag.FlagSet, tags map[string]string, ttl string) (*client.Client, client.Change, error) {
	t, err := checkedTags("tag", tags)
	if err != nil {
		return nil, client.Change{}, err
	}
	expiresAt, err := expiryFrom(fs, ttl)
	if err != nil {
		return nil, client.Change{}, err
	}
	c, err := a.client()
	return c, client.Change{Tags: t, ExpiresAt: expiresAt}, err
}

func createCommand() command {
	return command{
		name:    "create",
		args:    "[--tag KEY=VALUE]... [--ttl D.HH:MM:SS] [--location L] [--full-resource]",
		summary: "create a buffer and print its ID",
		about: `Creates an empty buffer and prints its ID, or its whole record as JSON with
--full-resource. Write to it with 'spool buffer write ID'. With --ttl the buffer
expires that long from now: it is then soft-deleted (restorable for a while, see
'spool buffer restore') and later purged. --location places it in a storage account
of that location (see 'spool buffer storage-account list'); without it the server's
default location.

` + tagRules,
		example: "  spool buffer create --tag team=vision --tag run=42\n  ID=$(spool buffer create) && spool buffer gen 1G | spool buffer write $ID",
		flags: func(a *app, fs *pflag.FlagSet) func(context.Context, []string) error {
			tags := tagFlag(fs, "tag", "a tag to set, `KEY=VALUE`; repeatable, or comma-separated")
			full := fs.Bool("full-resource", false, "print the buffer's JSON record instead of its ID")
			ttl := ttlFlag(fs, "how long until the buffer expires, `D.HH:MM:SS` (default: never)")
			location := fs.String("location", "", "the storage `LOCATION` (region) to place the buffer in (default: the server's)")
			return func(ctx context.Context, args []string) error {
				if err := wantArgs(args, 0, ""); err != nil {
					return err
				}
				c, ch, err := a.recordChange(fs, *tags, *ttl)
				if err != nil {
					return err
				}
				b, err := c.CreateBuffer(ctx, client.CreateRequest{Tags: ch.Tags, ExpiresAt: ch.ExpiresAt, Location: *location})
				if err != nil {
					return err
				}
				if *full {
					return a.printJSON(b)
				}
				_, err = fmt.Fprintln(a.stdout, b.ID)
				return err
			}
		},
	}
}

func showCommand() command {
	return command{
		name:    "show",
		args:    "ID [--soft-deleted]",
		summary: "print a buffer's record as JSON",
		about: `Prints the buffer's record (ID, creation time, location, tags, etag, expiry) as JSON.
With --soft-deleted it shows a deleted buffer instead (its expiry is when it will be
purged).`,
		example: "  spool buffer show yf4sx2aqzitepjhmxjhanomn5e",
		flags: func(a *app, fs *pflag.FlagSet) func(context.Context, []string) error {
			deleted := fs.Bool("soft-deleted", false, "show a soft-deleted buffer")
			return func(ctx context.Context, args []string) error {
				c, err := a.clientForID(args)
				if err != nil {
					return err
				}
				b, err := c.GetBuffer(ctx, args[0], client.GetOptions{SoftDeleted: *deleted})
				if err != nil {
					return err
				}
				return a.printJSON(b)
			}
		},
	}
}

func setCommand() command {
	return command{
		name:    "set",
		args:    "ID [--tag KEY=VALUE...] [--ttl D.HH:MM:SS] [--etag ETAG] [--soft-deleted]",
		summary: "replace a buffer's tags, or set when it expires",
		about: `Replaces ALL of the buffer's tags with the ones given (tags not named are
removed) and prints the updated record. With --etag the change is made only if the
buffer is unchanged since the 'show' that printed that etag.

--ttl sets the buffer to expire that long from now (with no --tag the tags stay as
they are). With --soft-deleted it changes a deleted buffer, whose expiry is when it
is purged.

` + tagRules,
		example: "  spool buffer set yf4sx2aqzitepjhmxjhanomn5e --tag team=vision --tag stage=done --etag 1234567",
		flags: func(a *app, fs *pflag.FlagSet) func(context.Context, []string) error {
			tags := tagFlag(fs, "tag", "a tag of the new set, `KEY=VALUE`; repeatable, or comma-separated")
			etag := fs.String("etag", "", "fail unless the buffer still has this `ETAG`")
			ttl := ttlFlag(fs, "expire the buffer this long from now, `D.HH:MM:SS` (0: now)")
			deleted := fs.Bool("soft-deleted", false, "change a soft-deleted buffer")
			return func(ctx context.Context, args []string) error {
				if err := wantArgs(args, 1, "the buffer ID"); err != nil {
					return err
				}
				if len(*tags) == 0 && !fs.Changed("ttl") {
					return usagef("", "give the new tags with --tag KEY=VALUE (set replaces all of the buffer's tags), or a new expiry with --ttl")
				}
				c, ch, err := a.recordChange(fs, *tags, *ttl)
				if err != nil {
					return err
				}
				ch.SoftDeleted, ch.ETag = *deleted, *etag
				if len(*tags) == 0 {
					if ch, err = keepTags(ctx, c, args[0], ch); err != nil {
						return err
					}
				}
				b, err := c.UpdateBuffer(ctx, args[0], ch)
				if err != nil {
					return err
				}
				return a.printJSON(b)
			}
		},
	}
}

// keepTags fills a change of the expiry alone with the tags as read, and with the
// etag they were read at, so that they are still the tags when the change lands.
func keepTags(ctx context.Context, c *client.Client, id string, ch client.Change) (client.Change, error) {
	cur, err := c.GetBuffer(ctx, id, client.GetOptions{SoftDeleted: ch.SoftDeleted})
	if err != nil {
		return ch, err
	}
	if ch.ETag != "" && ch.ETag != cur.ETag {
		return ch, fmt.Errorf("buffer %s has changed since etag %s (it is now %s)", id, ch.ETag, cur.ETag)
	}
	ch.Tags, ch.ETag = cur.Tags, cur.ETag
	return ch, nil
}

func listCommand() command {
	return command{
		name:    "list",
		args:    "[--tag KEY=VALUE]... [--exclude-tag KEY=VALUE]... [--limit N] [--soft-deleted]",
		summary: "list buffers as a JSON array",
		about: fmt.Sprintf(`Prints the buffers that carry every --tag pair and none of the --exclude-tag
pairs, newest first, as a JSON array. Without --limit at most %d are printed, with
a warning on stderr when there are more. --soft-deleted lists deleted buffers that
can still be restored instead of live ones.`, defaultListMax),
		example: "  spool buffer list --tag team=vision --exclude-tag stage=done --limit 20",
		flags: func(a *app, fs *pflag.FlagSet) func(context.Context, []string) error {
			tags := tagFlag(fs, "tag", "only buffers with this tag, `KEY=VALUE`; repeatable, or comma-separated")
			exclude := tagFlag(fs, "exclude-tag", "leave out buffers with this tag, `KEY=VALUE`; repeatable")
			limit := fs.IntP("limit", "l", defaultListMax, "print at most `N` buffers")
			deleted := fs.Bool("soft-deleted", false, "list soft-deleted buffers instead of live ones")
			return func(ctx context.Context, args []string) error {
				if err := wantArgs(args, 0, ""); err != nil {
					return err
				}
				if *limit < 0 {
					return usagef("", "--limit must be a non-negative integer, got %d", *limit)
				}
				sel, err := checkedFilter(*tags, *exclude)
				if err != nil {
					return err
				}
				sel.SoftDeleted = *deleted
				c, err := a.client()
				if err != nil {
					return err
				}
				items, truncated, err := c.ListAllBuffers(ctx, sel, *limit)
				if err != nil {
					return err
				}
				if err := a.printJSON(items); err != nil {
					return err
				}
				if truncated && !fs.Changed("limit") {
					a.warnf("the output was truncated to %d buffers; use --limit to see more", *limit)
				}
				return nil
			}
		},
	}
}

func accessCommand() command {
	return command{
		name:    "access",
		args:    "ID [-w|--write] [--access-ttl D.HH:MM:SS]",
		summary: "print a time-limited access URL for a buffer",
		about: `Prints a SAS URL that lets anyone holding it read the buffer (or, with --write,
also write it) straight from Blob Storage until it expires. Treat it as a secret.
'spool buffer read' and 'write' accept the URL, or a file holding it.`,
		example: "  spool buffer access yf4sx2aqzitepjhmxjhanomn5e --write > url.txt\n  spool buffer write url.txt -i data.bin",
		flags: func(a *app, fs *pflag.FlagSet) func(context.Context, []string) error {
			write := fs.BoolP("write", "w", false, "ask for write access as well as read")
			ttl := fs.String("access-ttl", "", "how long the URL stays valid, as `HH:MM:SS` (30 s to 1 h; default 1 h)")
			return func(ctx context.Context, args []string) error {
				if err := checkAccessTTL(*ttl); err != nil {
					return err
				}
				c, err := a.clientForID(args)
				if err != nil {
					return err
				}
				u, err := c.Access(ctx, args[0], *write, *ttl)
				if err != nil {
					return err
				}
				_, err = fmt.Fprintln(a.stdout, u)
				return err
			}
		},
	}
}
