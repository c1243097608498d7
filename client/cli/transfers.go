package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/pflag"

	"spool/client"
	"spool/client/access"
	"spool/client/testpattern"
	"spool/client/transfer"
)

const defaultFlushInterval = time.Second

// resolve turns a BUFFER argument into an access source. The API client is only
// needed (and a bad server URL only matters) when the argument is a buffer ID.
func (a *app) resolve(ctx context.Context, arg string, writeable bool, accessTTL string) (transfer.AccessSource, error) {
	if err := checkAccessTTL(accessTTL); err != nil {
		return nil, err
	}
	c, err := a.client()
	if err != nil {
		if client.ValidateID(arg) == nil {
			return nil, err
		}
		c = nil
	}
	return access.Resolve(ctx, c, arg, access.Options{Writeable: writeable, AccessTTL: accessTTL})
}

// transferArgs checks the BUFFER argument and --dop of write and read.
func transferArgs(args []string, verb string, dop int) error {
	if err := wantArgs(args, 1, "the BUFFER to "+verb); err != nil {
		return err
	}
	if dop < 1 {
		return usagef("", "--dop must be at least 1, got %d", dop)
	}
	return nil
}

// accessTTLFlag is the lifetime asked for access URLs, checked here as the server
// checks it.
func accessTTLFlag(fs *pflag.FlagSet) *string {
	return fs.String("access-ttl", "", "with a buffer ID, ask for access URLs valid this long, as `HH:MM:SS` (30 s to 1 h; default 1 h)")
}

func writeCommand() command {
	return command{
		name:    "write",
		args:    "BUFFER [-i FILE] [--dop N] [-b|--block-size SIZE] [-f|--flush-interval DURATION]",
		summary: "stream stdin or a file into a buffer",
		about: `Writes stdin (or --input) into the buffer as numbered blobs, each with its MD5
and a hash chain, uploading --dop blobs at a time. BUFFER is a buffer ID, an access
URL, or the path of a file holding one (read again when the URL expires). A buffer
is written once: writing one that already has data fails. If the input fails or
the write is interrupted, the buffer is marked failed so readers stop.

` + sizeHelp + ` A block is 1K to 682M: the uploads hold a few blocks each,
within 2G of memory, and fewer run at once when more would not fit.`,
		example: "  spool buffer gen 1G | spool buffer write yf4sx2aqzitepjhmxjhanomn5e\n  spool buffer write url.txt -i data.bin --block-size 16M",
		flags: func(a *app, fs *pflag.FlagSet) func(context.Context, []string) error {
			input := fs.StringP("input", "i", "", "read from `FILE` instead of stdin")
			dop := fs.IntP("dop", "p", transfer.DefaultWriteDOP, "upload `N` blobs at once")
			blockSize := fs.StringP("block-size", "b", "4M", "the `SIZE` of each blob")
			flush := fs.DurationP("flush-interval", "f", defaultFlushInterval,
				"upload input that has waited this `DURATION`, so slow input reaches\nreaders promptly; 0 turns it off (it is off for regular files)")
			accessTTL := accessTTLFlag(fs)
			return func(ctx context.Context, args []string) error {
				if err := transferArgs(args, "write", *dop); err != nil {
					return err
				}
				opts, err := writeOptions(*dop, *blockSize, *flush)
				if err != nil {
					return err
				}
				in, size, regular, err := a.openInput(*input)
				if err != nil {
					return err
				}
				defer in.Close()
				src, err := a.resolve(ctx, args[0], true, *accessTTL)
				if err != nil {
					return err
				}
				if regular {
					// A regular file never stalls, so waiting buys nothing and only
					// makes short blobs.
					opts.FlushInterval = 0
				}
				httpClient, closeIdle := a.blobHTTPClient()
				defer closeIdle()
				p := a.newTransferProgress("wrote", size)
				opts.Progress, opts.Logf, opts.HTTPClient = p.update, p.logf, httpClient
				stats, err := transfer.Write(ctx, src, in, opts)
				p.finish(stats.Bytes, err)
				return err
			}
		},
	}
}

// writeOptions checks the write command's flags and turns them into transfer
// options; what the engine would refuse (a block too small, or too big for its
// memory limit) is a usage error too.
func writeOptions(dop int, blockSize string, flush time.Duration) (transfer.WriteOptions, error) {
	bs, err := parseBlockSize(blockSize)
	if err != nil {
		return transfer.WriteOptions{}, usagef("", "--block-size: %v", err)
	}
	if flush < 0 {
		return transfer.WriteOptions{}, usagef("", "--flush-interval must not be negative, got %s", flush)
	}
	opts := transfer.WriteOptions{DOP: dop, BlockSize: bs, FlushInterval: flush}
	if err := opts.Validate(); err != nil {
		return opts, usagef("", "%v", err)
	}
	return opts, nil
}

// openInput opens the write command's input. size is -1 when unknown. regular is
// only ever true for a named file: stdin keeps the flush interval even when it is
// redirected from a file, as in Tyger, though its size still gives a percentage.
func (a *app) openInput(path string) (r io.ReadCloser, size int64, regular bool, err error) {
	if path == "" || path == "-" {
		size = -1
		if f, ok := a.stdin.(*os.File); ok {
			if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
				size = fi.Size()
			}
		}
		return io.NopCloser(a.stdin), size, false, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, false, fmt.Errorf("opening the input: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, false, fmt.Errorf("opening the input: %w", err)
	}
	if fi.Mode().IsRegular() {
		return f, fi.Size(), true, nil
	}
	return f, -1, false, nil
}

func readCommand() command {
	return command{
		name:    "read",
		args:    "BUFFER [-o FILE] [--dop N]",
		summary: "stream a buffer to stdout or a file",
		about: `Reads the buffer to stdout (or --output), downloading --dop blobs at a time and
writing only bytes whose MD5 and hash chain check out. It waits for blobs still
being written, so reading while writing works. It fails on a failed, missing or
corrupt buffer. BUFFER is a buffer ID, an access URL, or the path of a file
holding one (read again when the URL expires).

With --output the data goes to a temporary file beside FILE, which replaces FILE
only when the whole buffer has been read and verified: a failed or interrupted
read leaves FILE as it was.`,
		example: "  spool buffer read yf4sx2aqzitepjhmxjhanomn5e -o data.bin\n  spool buffer read url.txt | sha256sum",
		flags: func(a *app, fs *pflag.FlagSet) func(context.Context, []string) error {
			output := fs.StringP("output", "o", "", "write to `FILE` instead of stdout; it is replaced only once the\nwhole buffer is read and verified")
			dop := fs.IntP("dop", "p", transfer.DefaultReadDOP, "download `N` blobs at once")
			accessTTL := accessTTLFlag(fs)
			return func(ctx context.Context, args []string) error {
				if err := transferArgs(args, "read", *dop); err != nil {
					return err
				}
				if err := (transfer.ReadOptions{DOP: *dop}).Validate(); err != nil {
					return usagef("", "%v", err)
				}
				// Resolve first, so a bad argument costs not even a temporary file.
				src, err := a.resolve(ctx, args[0], false, *accessTTL)
				if err != nil {
					return err
				}
				out, finish, err := a.readOutput(*output)
				if err != nil {
					return err
				}
				httpClient, closeIdle := a.blobHTTPClient()
				defer closeIdle()
				// The engine learns a buffer's size only at its end, so a read has no
				// percentage or ETA.
				p := a.newTransferProgress("read", -1)
				stats, err := transfer.Read(ctx, src, out, transfer.ReadOptions{DOP: *dop, Progress: p.update, Logf: p.logf, HTTPClient: httpClient})
				err = finish(err)
				p.finish(stats.Bytes, err)
				return err
			}
		},
	}
}

// openOutput opens where read and gen write: stdout, or a file created or
// truncated with mode 0644.
func (a *app) openOutput(path string) (io.WriteCloser, error) {
	if path == "" || path == "-" {
		return nopWriteCloser{a.stdout}, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening the output: %w", err)
	}
	return f, nil
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

func genCommand() command {
	return command{
		name:    "gen",
		args:    "SIZE [-o FILE]",
		summary: "write SIZE bytes of deterministic test data",
		about: `Writes SIZE bytes of the repeating 64-byte test pattern Tyger's 'buffer gen'
writes, so checksums compare across the two.

` + sizeHelp,
		example: "  spool buffer gen 1G | spool buffer write yf4sx2aqzitepjhmxjhanomn5e\n  spool buffer gen 32M | sha256sum",
		flags: func(a *app, fs *pflag.FlagSet) func(context.Context, []string) error {
			output := fs.StringP("output", "o", "", "write to `FILE` (created or truncated) instead of stdout")
			return func(ctx context.Context, args []string) error {
				if err := wantArgs(args, 1, "the SIZE to generate"); err != nil {
					return err
				}
				n, err := parseSize(args[0])
				if err != nil {
					return usagef("", "%v", err)
				}
				out, err := a.openOutput(*output)
				if err != nil {
					return err
				}
				err = testpattern.Write(out, n)
				if cerr := out.Close(); cerr != nil && err == nil {
					err = fmt.Errorf("closing the output: %w", cerr)
				}
				return err
			}
		},
	}
}
