package transfer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"spool/internal/reliability"
)

// blobNames lists the buffer's blobs, for checking that nothing was written.
func blobNames(t *testing.T, b *testBuffer) []string {
	t.Helper()
	var names []string
	pager := b.admin.NewListBlobsFlatPager(nil)
	for pager.More() {
		page, err := pager.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, item := range page.Segment.BlobItems {
			names = append(names, *item.Name)
		}
	}
	return names
}

// interrupted leaves the buffer as a writer killed mid-write would: its start
// (declaring a 10 ms heartbeat), the 1 KiB blobs of data numbered in landed,
// and nothing else; then waits until that writer counts as gone.
func interrupted(t *testing.T, b *testBuffer, data []byte, landed []int64, terminal bool) {
	spoolStart(t, b, 10*time.Millisecond)
	chain := InitialHashChain
	var n int64
	for off := 0; off < len(data); off += 1 << 10 {
		block := data[off:min(off+1<<10, len(data))]
		chain = NextHashChain(chain, ContentMD5(block))
		for _, l := range landed {
			if l == n {
				upload(t, b, BlobPath(n), block, chain)
			}
		}
		n++
	}
	if terminal {
		upload(t, b, BlobPath(n), nil, NextHashChain(chain, ContentMD5(nil)))
	}
	time.Sleep(2100 * time.Millisecond) // two 10 ms heartbeats and, in whole seconds, a second more
}

func TestResumeCompletesAnInterruptedWriteByteForByte(t *testing.T) {
	data := genData(0, 6<<10+100) // seven blobs of 1 KiB at most
	cases := []struct {
		name     string
		landed   []int64
		terminal bool
	}{
		{"only the start marker", nil, false},
		{"two blobs", []int64{0, 1}, false},
		{"a hole left by parallel uploads", []int64{0, 1, 3, 4}, false},
		{"all data, no terminal blob", []int64{0, 1, 2, 3, 4, 5, 6}, false},
		{"terminal blob, no seal", []int64{0, 1, 2, 3, 4, 5, 6}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := newBuffer(t)
			interrupted(t, b, data, c.landed, c.terminal)
			stats, err := Resume(context.Background(), StaticURL(b.write), bytes.NewReader(data), int64(len(data)), WriteOptions{BlockSize: 4 << 10, DOP: 3})
			// Once blobs landed, the rest is cut as they were (1 KiB), not by BlockSize.
			if err != nil || stats.Bytes != int64(len(data)) || (len(c.landed) > 0 && stats.Blobs != 7) {
				t.Fatalf("resume: %+v, %v", stats, err)
			}
			out, err := b.readAll(context.Background(), ReadOptions{IdleTimeout: time.Second})
			if err != nil || !bytes.Equal(out, data) {
				t.Fatalf("read %d bytes (want %d), %v", len(out), len(data), err)
			}
			reliability.Record(t, reliability.Row{
				Area:    "resume",
				Fault:   "write resumed after the writer vanished leaving " + c.name,
				Tries:   1,
				Bytes:   int64(len(data)),
				Outcome: "existing blobs checked by MD5 and chain, the rest uploaded in the same cut, sealed; read back byte-identical",
			})
		})
	}
}

func TestResumeRefusesAndChangesNothing(t *testing.T) {
	data := genData(0, 4<<10)
	changed := bytes.Clone(data)
	changed[1500] ^= 1
	cases := []struct {
		name  string
		setup func(t *testing.T, b *testBuffer)
		file  []byte
		want  error
	}{
		{"a changed file", func(t *testing.T, b *testBuffer) { interrupted(t, b, data, []int64{0, 1}, false) }, changed, ErrResumeMismatch},
		{"a shorter file", func(t *testing.T, b *testBuffer) { interrupted(t, b, data, []int64{0, 1}, false) }, data[:1500], ErrResumeMismatch},
		{"a writer still alive", func(t *testing.T, b *testBuffer) {
			spoolStart(t, b, time.Minute)
			uploadWithMeta(t, b, heartbeatBlob(0), nil, nil)
		}, data, ErrAnotherWriter},
		{"a failed buffer", func(t *testing.T, b *testBuffer) {
			interrupted(t, b, data, []int64{0}, false)
			upload(t, b, endBlobName, endBlobFailed, "")
		}, data, ErrNotResumable},
		{"a Tyger writer's buffer", func(t *testing.T, b *testBuffer) { upload(t, b, startBlobName, startBlobBody, "") }, data, ErrNotResumable},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := newBuffer(t)
			c.setup(t, b)
			before := fmt.Sprint(blobNames(t, b))
			_, err := Resume(context.Background(), StaticURL(b.write), bytes.NewReader(c.file), int64(len(c.file)), WriteOptions{BlockSize: 1 << 10})
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if after := fmt.Sprint(blobNames(t, b)); after != before {
				t.Fatalf("blobs changed from %s to %s", before, after)
			}
			reliability.Record(t, reliability.Row{
				Area:    "resume",
				Fault:   "write resume with " + c.name,
				Tries:   1,
				Outcome: "refused (" + c.want.Error() + "); no blob created",
			})
		})
	}
}

func TestResumeOfAnUnstartedBufferWritesItAndOfACompleteOneChangesNothing(t *testing.T) {
	data := genData(0, 3000)
	b := newBuffer(t)
	for range 2 {
		if _, err := Resume(context.Background(), StaticURL(b.write), bytes.NewReader(data), int64(len(data)), WriteOptions{BlockSize: 1 << 10, HeartbeatInterval: 10 * time.Millisecond}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2100 * time.Millisecond)
	}
	if out, err := b.readAll(context.Background(), ReadOptions{}); err != nil || !bytes.Equal(out, data) {
		t.Fatalf("read %d bytes, %v", len(out), err)
	}
}

func TestResumeReadContinuesAPartialFileAndRefusesAForeignOne(t *testing.T) {
	data := genData(0, 6<<10+100)
	b := newBuffer(t)
	b.writeBytes(t, data, WriteOptions{BlockSize: 1 << 10})
	foreign := bytes.Clone(data[:3000])
	foreign[2000] ^= 1
	cases := []struct {
		name    string
		partial []byte
		want    error
	}{
		{"nothing yet", nil, nil},
		{"a blob boundary", data[:1<<10], nil},
		{"mid-blob", data[:1500], nil},
		{"everything", data, nil},
		{"a changed byte", foreign, ErrResumeMismatch},
		{"more than the buffer", append(bytes.Clone(data), 'x'), ErrResumeMismatch},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := t.TempDir() + "/out"
			os.WriteFile(path, c.partial, 0o644)
			f, err := os.OpenFile(path, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			stats, err := ResumeRead(context.Background(), StaticURL(b.read), f, ReadOptions{DOP: 3})
			f.Close()
			got, _ := os.ReadFile(path)
			if c.want != nil {
				if !errors.Is(err, c.want) || !bytes.Equal(got, c.partial) {
					t.Fatalf("err = %v, file changed: %v", err, !bytes.Equal(got, c.partial))
				}
				return
			}
			if err != nil || !bytes.Equal(got, data) || stats.Bytes != int64(len(data)) {
				t.Fatalf("resumed read: %+v, %v; file has %d bytes, identical %v", stats, err, len(got), bytes.Equal(got, data))
			}
		})
	}
	reliability.Record(t, reliability.Row{
		Area:    "resume",
		Fault:   "read resumed into a partial file cut at nothing, a blob boundary, mid-blob and the end; and into files with a changed byte or extra bytes",
		Tries:   len(cases),
		Outcome: "partial files completed byte-identical; foreign ones refused and left untouched",
	})
}
