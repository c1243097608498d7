package cli

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// fileOutput is read's --output when it names a regular file (or none yet): the
// data goes to a temporary file beside it, renamed over it only once the buffer
// has been read whole and verified. A failed or interrupted read so leaves an
// existing file as it was, and never a partial file that looks whole.
type fileOutput struct {
	*os.File        // the temporary file
	target   string // the real path the file is renamed to
}

// createFileOutput opens the temporary file for target. It takes target's
// permissions if target exists, else 0666 less the umask, as a plain create would.
// It is in target's own directory, so the rename cannot cross file systems.
func createFileOutput(target string) (*fileOutput, error) {
	mode := fs.FileMode(0)
	if fi, err := os.Stat(target); err == nil {
		// Write beside the file itself, not beside a symlink to it: renaming over
		// the link would replace the link.
		if target, err = filepath.EvalSymlinks(target); err != nil {
			return nil, fmt.Errorf("opening the output: %w", err)
		}
		mode = fi.Mode().Perm()
	}
	f, err := createBeside(target)
	if err != nil {
		return nil, fmt.Errorf("opening the output: %w", err)
	}
	if mode != 0 {
		if err := f.Chmod(mode); err != nil {
			f.Close()
			os.Remove(f.Name())
			return nil, fmt.Errorf("opening the output: %w", err)
		}
	}
	return &fileOutput{File: f, target: target}, nil
}

// createBeside makes a new, hidden file next to target with mode 0666 (the umask
// applies). os.CreateTemp would make it 0600.
func createBeside(target string) (*os.File, error) {
	dir, base := filepath.Split(target)
	for range 10 {
		var suffix [6]byte
		_, _ = rand.Read(suffix[:])
		name := filepath.Join(dir, "."+base+".spool-"+hex.EncodeToString(suffix[:])+".partial")
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
		if !errors.Is(err, fs.ErrExist) {
			return f, err
		}
	}
	return nil, fmt.Errorf("cannot create a temporary file beside %s", target)
}

// commit makes the data durable and puts it in place of the target.
func (o *fileOutput) commit() error {
	if err := o.Sync(); err != nil {
		o.abort()
		return fmt.Errorf("saving the output: %w", err)
	}
	if err := o.Close(); err != nil {
		o.abort()
		return fmt.Errorf("closing the output: %w", err)
	}
	if err := os.Rename(o.Name(), o.target); err != nil {
		o.abort()
		return fmt.Errorf("moving the output into place: %w", err)
	}
	return nil
}

// abort removes the temporary file; the target stays as it was.
func (o *fileOutput) abort() {
	_ = o.Close()
	_ = os.Remove(o.Name())
}

// readOutput is where read writes: stdout, a pipe or device named by --output
// (written directly: there is nothing there to keep), or a fileOutput. finish
// commits on success and aborts on failure, and returns the error to report.
func (a *app) readOutput(path string) (w io.Writer, finish func(readErr error) error, err error) {
	if fi, statErr := os.Stat(path); path == "" || path == "-" || (statErr == nil && !fi.Mode().IsRegular()) {
		out, err := a.openOutput(path)
		if err != nil {
			return nil, nil, err
		}
		return out, func(readErr error) error {
			if cerr := out.Close(); cerr != nil && readErr == nil {
				return fmt.Errorf("closing the output: %w", cerr)
			}
			return readErr
		}, nil
	}
	out, err := createFileOutput(path)
	if err != nil {
		return nil, nil, err
	}
	return out, func(readErr error) error {
		if readErr != nil {
			out.abort()
			return readErr
		}
		return out.commit()
	}, nil
}
