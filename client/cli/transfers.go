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

const writeAbout = `Writes stdin (or --input) into the buffer as numbered blobs, each with its MD5
and a hash chain, uploading --dop blobs at a time. BUFFER is a buffer ID, an access
URL, or the path of a file holding one (read again when the URL expires). A buffer
is written once: writing one that already has data fails. If the input fails or
the write is interrupted, the buffer is marked failed so readers stop. While it
writes, it leaves readers a sign of life every few seconds, even when its input
is idle, and it seals the buffer at the end with its size and final hash chain.

A write cut off without the chance to mark the buffer failed (the process
killed, the machine gone) is continued with --resume and the same -i FILE, once
the first writer has been silent for two of its heartbeats: each blob already
there is checked against the file (MD5 and hash chain), the rest is uploaded and
the buffer sealed. A file that does not match is refused and nothing changes.

` + sizeHelp + ` A block is 1K to 682M: the uploads hold a few blocks each,
within 2G of memory, and fewer run at once when more would not fit.`

func writeCommand() command {
	return command{
		name:    "write",
		args:    "BUFFER [-i FILE [--resume]] [--dop N] [-b|--block-size SIZE] [-f|--flush-interval DURATION]",
		summary: "stream stdin or a file into a buffer",
		about:   writeAbout,
		example: "  spool buffer gen 1G | spool buffer write yf4sx2aqzitepjhmxjhanomn5e\n  spool buffer write url.txt -i data.bin --block-size 16M",
		flags: func(a *app, fs *pflag.FlagSet) func(context.Context, []string) error {
			input := fs.StringP("input", "i", "", "read from `FILE` instead of stdin")
			dop := fs.IntP("dop", "p", transfer.DefaultWriteDOP, "upload `N` blobs at once")
			blockSize := fs.StringP("block-size", "b", "4M", "the `SIZE` of each blob")
			flush := fs.DurationP("flush-interval", "f", defaultFlushInterval,
				"upload input that has waited this `DURATION`, so slow input reaches\nreaders promptly; 0 turns it off (it is off for regular files)")
			resume := fs.Bool("resume", false, "continue an interrupted write of the same -i FILE: blobs already\nthere are checked against it, the rest uploaded")
			heartbeat := fs.Duration("heartbeat-interval", transfer.DefaultHeartbeatInterval, "how often to leave readers a sign of life")
			fs.MarkHidden("heartbeat-interval") // for tests: readers wait two of these
			accessTTL := accessTTLFlag(fs)
			return func(ctx context.Context, args []string) error {
				if err := transferArgs(args, "write", *dop); err != nil {
					return err
				}
				opts, err := writeOptions(*dop, *blockSize, *flush)
				if err != nil {
					return err
				}
				opts.HeartbeatInterval = *heartbeat
				in, size, regular, err := a.openInput(*input)
				if err != nil {
					return err
				}
				defer in.Close()
				if *resume && !regular {
					return usagef("", "--resume needs the input as a file (-i FILE): it checks the data already written against the file, and stdin cannot be read twice")
				}
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
				stats, err := writeOrResume(ctx, src, in, size, *resume, opts)
				p.finish(stats.Bytes, err)
				return err
			}
		},
	}
}

// writeOrResume writes in to the buffer, or with resume continues the write of
// the file in was opened from.
func writeOrResume(ctx context.Context, src transfer.AccessSource, in io.Reader, size int64, resume bool, opts transfer.WriteOptions) (transfer.Stats, error) {
	if file, ok := in.(io.ReaderAt); ok && resume {
		return transfer.Resume(ctx, src, file, size, opts)
	}
	return transfer.Write(ctx, src, in, opts)
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
		args:    "BUFFER [-o FILE [--resume]] [--dop N] [--idle-timeout DURATION]",
		summary: "stream a buffer to stdout or a file",
		about: `Reads the buffer to stdout (or --output), downloading --dop blobs at a time and
writing only bytes whose MD5 and hash chain check out. It waits for blobs still
being written, so reading while writing works, and gives up with an error when
the writer has shown no life for --idle-timeout (a spool writer leaves a sign
of life every few seconds, even while its input is idle). It fails on a failed,
missing or corrupt buffer, and on one whose data does not match the size and
final hash chain its writer sealed it with. BUFFER is a buffer ID, an access URL, or the path of a file
holding one (read again when the URL expires).

With --output the data goes to a temporary file beside FILE, which replaces FILE
only when the whole buffer has been read and verified: a failed or interrupted
read leaves FILE as it was. With --resume, FILE is written in place instead, so a
read cut off leaves what it verified there, and the next read --resume checks
that against the buffer (MD5 and hash chain of each whole blob) and goes on from
where it stopped; a FILE that does not match is refused and left as it is.`,
		example: "  spool buffer read yf4sx2aqzitepjhmxjhanomn5e -o data.bin\n  spool buffer read url.txt | sha256sum",
		flags: func(a *app, fs *pflag.FlagSet) func(context.Context, []string) error {
			output := fs.StringP("output", "o", "", "write to `FILE` instead of stdout; it is replaced only once the\nwhole buffer is read and verified")
			dop := fs.IntP("dop", "p", transfer.DefaultReadDOP, "download `N` blobs at once")
			idle := fs.Duration("idle-timeout", defaultIdleTimeout, "give up when the writer has left no new data and no sign of life\nfor this `DURATION`; 0 waits for ever. Writers that leave no signs\n(Tyger's) are waited for unless it is given")
			resume := fs.Bool("resume", false, "continue a read cut off earlier: -o FILE is written in place, its\nwhole blobs checked against the buffer and the rest appended")
			accessTTL := accessTTLFlag(fs)
			return func(ctx context.Context, args []string) error {
				if err := transferArgs(args, "read", *dop); err != nil {
					return err
				}
				opts, err := readOptions(*dop, *idle, fs.Changed("idle-timeout"))
				if err != nil {
					return err
				}
				if *resume && (*output == "" || *output == "-") {
					return usagef("", "--resume needs the output as a file (-o FILE): it continues what the file holds")
				}
				// Resolve first, so a bad argument costs not even a temporary file.
				src, err := a.resolve(ctx, args[0], false, *accessTTL)
				if err != nil {
					return err
				}
				httpClient, closeIdle := a.blobHTTPClient()
				defer closeIdle()
				// The size is known once the seal is seen: at once for a sealed buffer.
				p := a.newTransferProgress("read", -1)
				opts.Progress, opts.Logf, opts.HTTPClient, opts.Total = p.update, p.logf, httpClient, p.setTotal
				stats, err := a.readTo(ctx, src, *output, *resume, opts)
				p.finish(stats.Bytes, err)
				return err
			}
		},
	}
}

// readTo reads the buffer to output: in place with resume, else through
// readOutput (stdout, or a file replaced only once the read is whole).
func (a *app) readTo(ctx context.Context, src transfer.AccessSource, output string, resume bool, opts transfer.ReadOptions) (transfer.Stats, error) {
	if resume {
		f, err := os.OpenFile(output, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return transfer.Stats{}, fmt.Errorf("opening the output: %w", err)
		}
		stats, err := transfer.ResumeRead(ctx, src, f, opts)
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("closing the output: %w", cerr)
		}
		return stats, err
	}
	out, finish, err := a.readOutput(output)
	if err != nil {
		return transfer.Stats{}, err
	}
	stats, err := transfer.Read(ctx, src, out, opts)
	return stats, finish(err)
}

// defaultIdleTimeout is how long read waits for a writer that shows no life.
const defaultIdleTimeout = 60 * time.Second

// readOptions checks the read command's flags. The idle timeout applies to
// writers that leave no sign of life only when the user gave it.
func readOptions(dop int, idle time.Duration, idleGiven bool) (transfer.ReadOptions, error) {
	if idle < 0 {
		return transfer.ReadOptions{}, usagef("", "--idle-timeout must not be negative, got %s", idle)
	}
	opts := transfer.ReadOptions{DOP: dop, IdleTimeout: idle, IdleTimeoutAlways: idleGiven}
	if err := opts.Validate(); err != nil {
		return opts, usagef("", "%v", err)
	}
	return opts, nil
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
