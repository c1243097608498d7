package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"

	"spool/client"
	"spool/client/bufcopy"
)

// copyFlags are the copy command's flags once parsed.
type copyFlags struct {
	tags       map[string]string
	toLocation string
	to         string
	journal    string
}

func copyCommand() command {
	return command{
		name:    "copy",
		args:    "(ID | --tag KEY=VALUE...) [--to-location L] [--to SERVER_URL] [--journal FILE]",
		summary: "copy buffers to another storage location or another spool server",
		about: `Copies one buffer, or every buffer the --tag filter selects, into new buffers
with the same tags and expiry: in a storage account of location L of this server
(--to-location), or on the spool server at SERVER_URL (--to; with --to-location
too, in that server's location L). Blobs go from storage to storage (Put Blob From
URL, else Copy Blob); only where storage refuses both are they streamed through
this machine, and the output counts them ("streamed"). Every copied blob is checked
against its source's MD5 and the hash chain is verified before the copy is
finished. The source is only read. A journal (default: copies.json in spool's
config folder) remembers each copy, so running the command again resumes an
interrupted copy and skips finished ones. Prints {"count": N, "copies": [...]}.
SPOOL_TO_FUNCTION_KEY, when set, is the function key sent to the --to server.`,
		example: "  spool buffer copy yf4sx2aqzitepjhmxjhanomn5e --to-location westus\n  spool buffer copy --tag run=42 --to https://other.azurewebsites.net/api",
		flags: func(a *app, fs *pflag.FlagSet) func(context.Context, []string) error {
			tags := tagFlag(fs, "tag", "copy every buffer with this tag, `KEY=VALUE`; repeatable")
			var f copyFlags
			fs.StringVar(&f.toLocation, "to-location", "", "the storage `LOCATION` to copy into")
			fs.StringVar(&f.to, "to", "", "the spool API root `URL` of the server to copy to (default: this one)")
			fs.StringVar(&f.journal, "journal", "", "the copy journal `FILE` (default: copies.json in spool's config folder)")
			return func(ctx context.Context, args []string) error {
				f.tags = *tags
				return a.runCopy(ctx, args, f)
			}
		},
	}
}

// copyOutput is what copy prints.
type copyOutput struct {
	Count  int              `json:"count"`
	Copies []bufcopy.Result `json:"copies"`
}

func (a *app) runCopy(ctx context.Context, args []string, f copyFlags) error {
	opts, err := a.copyOptions(args, f)
	if err != nil {
		return err
	}
	ids := args
	if len(args) == 0 {
		if ids, err = a.copySelection(ctx, opts, f.tags); err != nil {
			return err
		}
	}
	httpClient, closeIdle := a.blobHTTPClient()
	defer closeIdle()
	opts.HTTPClient = httpClient
	out := copyOutput{Copies: []bufcopy.Result{}}
	for _, id := range ids {
		res, err := bufcopy.Buffer(ctx, opts, id)
		if err != nil {
			return err
		}
		if res.Streamed > 0 {
			a.notef("buffer %s: %d of %d blobs were streamed through this machine: storage refused to copy them itself", id, res.Streamed, res.Blobs)
		}
		out.Copies = append(out.Copies, res)
	}
	out.Count = len(out.Copies)
	return a.printJSON(out)
}

// copyOptions checks the arguments and makes the source and destination clients.
func (a *app) copyOptions(args []string, f copyFlags) (bufcopy.Options, error) {
	if (len(args) == 0) == (len(f.tags) == 0) || len(args) > 1 {
		return bufcopy.Options{}, usagef("buffer copy", "name one buffer ID or select buffers with --tag")
	}
	if f.to == "" && f.toLocation == "" {
		return bufcopy.Options{}, usagef("buffer copy", "say where to: --to-location, --to, or both")
	}
	if _, err := checkedTags("tag", f.tags); err != nil {
		return bufcopy.Options{}, err
	}
	src, err := a.client()
	if err != nil {
		return bufcopy.Options{}, err
	}
	dst := src
	if f.to != "" {
		if dst, err = a.clientAt(f.to); err != nil {
			return bufcopy.Options{}, err
		}
	}
	journal, err := openJournal(f.journal)
	if err != nil {
		return bufcopy.Options{}, err
	}
	return bufcopy.Options{Source: src, Destination: dst, Location: f.toLocation, Journal: journal, Logf: a.warnf}, nil
}

// clientAt is a client for another server: it gets the login's token only if the
// login is for that server, and a function key only from SPOOL_TO_FUNCTION_KEY (this
// server's key is not sent elsewhere).
func (a *app) clientAt(serverURL string) (*client.Client, error) {
	sess, err := rememberedSession()
	if err != nil {
		return nil, err
	}
	opts := a.clientOptions(sess)
	opts.ServerURL, opts.FunctionKey, opts.Authorize = serverURL, os.Getenv("SPOOL_TO_FUNCTION_KEY"), nil
	if sess != nil && sameServer(serverURL, sess.Config.ServerURL) {
		opts.Authorize = sess.Authorize
	}
	c, err := client.New(opts)
	if err != nil {
		return nil, usagef("buffer copy", "--to: %v", err)
	}
	return c, nil
}

func openJournal(path string) (*bufcopy.Journal, error) {
	if path == "" {
		dir, err := os.UserConfigDir()
		if err != nil {
			return nil, usagef("buffer copy", "no config folder for the journal (%v): give --journal", err)
		}
		path = filepath.Join(dir, "spool", "copies.json")
	}
	return bufcopy.OpenJournal(path)
}

// maxCopySelection bounds a --tag selection: copy walks it whole before copying.
const maxCopySelection = 100_000

// copySelection lists the buffers the tags select, leaving out the copies earlier
// runs made (they carry the same tags) and, within one server, the buffers already
// in the target location.
func (a *app) copySelection(ctx context.Context, opts bufcopy.Options, tags map[string]string) ([]string, error) {
	items, truncated, err := opts.Source.ListAllBuffers(ctx, client.ListOptions{Tags: tags}, maxCopySelection)
	if err != nil {
		return nil, err
	}
	if truncated {
		return nil, fmt.Errorf("the tags select more than %d buffers; narrow the selection", maxCopySelection)
	}
	copies := opts.Journal.Destinations()
	sameServer := opts.Source == opts.Destination
	var ids []string
	for _, b := range items {
		if sameServer && (copies[b.ID] || strings.EqualFold(b.Location, opts.Location)) {
			continue
		}
		ids = append(ids, b.ID)
	}
	return ids, nil
}
