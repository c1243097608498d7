package transfer

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
)

func TestRoundTripKeepsBytesAtBlockBoundaries(t *testing.T) {
	const blockSize = 64<<10 + 7
	for _, size := range []int64{0, 1, blockSize - 1, blockSize, blockSize + 1, 3*blockSize + 11} {
		b := newBuffer(t)
		input := genData(0, size)
		var progress atomic.Int64
		stats, err := Write(context.Background(), StaticURL(b.write), bytes.NewReader(input),
			WriteOptions{BlockSize: blockSize, DOP: 4, Progress: func(n int64) { progress.Store(n) }})
		if err != nil {
			t.Fatalf("size %d: write: %v", size, err)
		}
		wantBlobs := (size + blockSize - 1) / blockSize
		if stats.Bytes != size || stats.Blobs != wantBlobs || progress.Load() != size {
			t.Fatalf("size %d: stats %+v, progress %d", size, stats, progress.Load())
		}
		out, err := b.readAll(context.Background(), ReadOptions{DOP: 3})
		if err != nil {
			t.Fatalf("size %d: read: %v", size, err)
		}
		if sha256.Sum256(out) != sha256.Sum256(input) {
			t.Fatalf("size %d: read %d bytes that differ from the input", size, len(out))
		}
	}
}

func TestRoundTripOf64MiBWithDefaultsKeepsSHA256(t *testing.T) {
	b := newBuffer(t)
	const size = 64 << 20
	stats, err := Write(context.Background(), StaticURL(b.write), &genReader{size: size}, WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if stats.Blobs != 16 {
		t.Fatalf("wrote %d blobs, want 16 of 4 MiB", stats.Blobs)
	}
	h := sha256.New()
	if _, err := Read(context.Background(), StaticURL(b.read), h, ReadOptions{}); err != nil {
		t.Fatal(err)
	}
	want := sha256.Sum256(genData(0, size))
	if !bytes.Equal(h.Sum(nil), want[:]) {
		t.Fatal("SHA-256 differs after the round trip")
	}
}

func TestWriteStoresHelloExactlyAsTheWorkedExample(t *testing.T) {
	b := newBuffer(t)
	b.writeBytes(t, []byte("Hello"), WriteOptions{})
	want := []struct{ name, body, md5, chain string }{
		{".bufferstart", `{"version":"0.3.0"}`, "jRl6v+tdX5RbfseHVtVXDw==", ""},
		{"00/000", "Hello", "ixqZU8RhEpaoJ6v4xHgE1w==", "Be2sTc2k0VLW0/rZazR8uFCREuD5k1d9OtCAk14ns4U="},
		{"00/001", "", "1B2M2Y8AsgTpgAmY7PhCfg==", "LV4PrI5mIT9mYkXErCiaIwlu8B8xxyHjH0UKfSKNt2w="},
		// Tyger's {"status":"complete"} plus the seal, which Tyger's reader ignores.
		{".bufferend", `{"status":"complete","size":5,"blobs":1,"hashChain":"LV4PrI5mIT9mYkXErCiaIwlu8B8xxyHjH0UKfSKNt2w="}`, "ST1I8wBaRZuA0wEZRSBkxw==", ""},
	}
	for _, w := range want {
		body, md5, chain := storedBlob(t, b, w.name)
		if body != w.body || md5 != w.md5 || chain != w.chain {
			t.Errorf("%s: body %q md5 %s chain %q; want %q %s %q", w.name, body, md5, chain, w.body, w.md5, w.chain)
		}
	}
	if exists(t, b, "00/002") {
		t.Error("a blob past the terminal one exists")
	}
}

func TestWriteOfEmptyInputStoresOneEmptyBlobWithSpecChain(t *testing.T) {
	b := newBuffer(t)
	b.writeBytes(t, nil, WriteOptions{})
	body, md5, chain := storedBlob(t, b, "00/000")
	if body != "" || md5 != "1B2M2Y8AsgTpgAmY7PhCfg==" || chain != "IBhjC6CulKsIAVImvFwU+NvluDHEN8fuYcdiV4ufDro=" {
		t.Fatalf("00/000: body %q md5 %s chain %s", body, md5, chain)
	}
}

// storedBlob fetches a blob with the shared-key client: body, Content-MD5 and
// chain metadata as storage keeps them.
func storedBlob(t *testing.T, b *testBuffer, name string) (body, contentMD5, chain string) {
	t.Helper()
	resp, err := b.admin.NewBlobClient(name).DownloadStream(context.Background(), nil)
	if err != nil {
		t.Fatalf("downloading %s: %v", name, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range resp.Metadata {
		if strings.EqualFold(k, "cumulative_hash_chain") && v != nil {
			chain = *v
		}
	}
	return string(data), base64.StdEncoding.EncodeToString(resp.ContentMD5), chain
}

func exists(t *testing.T, b *testBuffer, name string) bool {
	t.Helper()
	_, err := b.admin.NewBlobClient(name).GetProperties(context.Background(), nil)
	return err == nil
}

// upload puts a blob with the shared key, which may overwrite: the tamperer.
func upload(t *testing.T, b *testBuffer, name string, data []byte, chain string) {
	t.Helper()
	sum := md5.Sum(data)
	opts := &blockblob.UploadOptions{HTTPHeaders: &blob.HTTPHeaders{BlobContentMD5: sum[:]}}
	if chain != "" {
		opts.Metadata = map[string]*string{"cumulative_hash_chain": &chain}
	}
	if _, err := b.admin.NewBlockBlobClient(name).Upload(context.Background(), streaming.NopCloser(bytes.NewReader(data)), opts); err != nil {
		t.Fatalf("uploading %s: %v", name, err)
	}
}

// uploadWithMeta puts a blob with the shared key and the metadata given.
func uploadWithMeta(t *testing.T, b *testBuffer, name string, data []byte, meta map[string]string) {
	t.Helper()
	sum := md5.Sum(data)
	opts := &blockblob.UploadOptions{HTTPHeaders: &blob.HTTPHeaders{BlobContentMD5: sum[:]}, Metadata: map[string]*string{}}
	for k, v := range meta {
		opts.Metadata[k] = &v
	}
	if _, err := b.admin.NewBlockBlobClient(name).Upload(context.Background(), streaming.NopCloser(bytes.NewReader(data)), opts); err != nil {
		t.Fatalf("uploading %s: %v", name, err)
	}
}

// fiveBlobBuffer is a complete buffer of five 1 KiB blobs (00/000-00/004).
func fiveBlobBuffer(t *testing.T) *testBuffer {
	b := newBuffer(t)
	b.writeBytes(t, genData(0, 5<<10), WriteOptions{BlockSize: 1 << 10, DOP: 2})
	return b
}

func TestReadRejectsMiddleBlobWithValidMD5ButBrokenChain(t *testing.T) {
	b := fiveBlobBuffer(t)
	_, _, chain := storedBlob(t, b, "00/002")
	upload(t, b, "00/002", bytes.Repeat([]byte("x"), 1<<10), chain)
	out, err := b.readAll(context.Background(), ReadOptions{DOP: 4})
	if !errors.Is(err, ErrBufferCorrupt) || err.Error() != "hash chain mismatch at blob 00/002: the buffer is corrupt" {
		t.Fatalf("err = %v", err)
	}
	if !bytes.Equal(out, genData(0, 2<<10)) {
		t.Fatalf("output has %d bytes; want exactly the two verified blobs before the bad one", len(out))
	}
}

func TestReadRejectsDeletedMiddleBlobOfCompleteBuffer(t *testing.T) {
	b := fiveBlobBuffer(t)
	if _, err := b.admin.NewBlobClient("00/003").Delete(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	_, err := b.readAll(context.Background(), ReadOptions{DOP: 4})
	if !errors.Is(err, ErrBufferCorrupt) || err.Error() != "blob 00/003 is missing: the buffer is corrupt" {
		t.Fatalf("err = %v", err)
	}
}

func TestReadRejectsBlobWithoutChainHeader(t *testing.T) {
	b := fiveBlobBuffer(t)
	if _, err := b.admin.NewBlobClient("00/002").SetMetadata(context.Background(), map[string]*string{}, nil); err != nil {
		t.Fatal(err)
	}
	_, err := b.readAll(context.Background(), ReadOptions{})
	if err == nil || err.Error() != "blob 00/002 has no hash chain header" {
		t.Fatalf("err = %v", err)
	}
}

func TestReadOfFailedBufferFails(t *testing.T) {
	b := newBuffer(t)
	upload(t, b, ".bufferstart", startBlobBody, "")
	upload(t, b, "00/000", []byte("partial"), NextHashChain(InitialHashChain, ContentMD5([]byte("partial"))))
	upload(t, b, ".bufferend", endBlobFailed, "")
	_, err := b.readAll(context.Background(), ReadOptions{})
	if !errors.Is(err, ErrBufferFailed) {
		t.Fatalf("err = %v, want %v", err, ErrBufferFailed)
	}
}

func TestReadRejectsUnknownFormatVersion(t *testing.T) {
	b := newBuffer(t)
	upload(t, b, ".bufferstart", []byte(`{"version":"0.2.0"}`), "")
	_, err := b.readAll(context.Background(), ReadOptions{})
	if err == nil || err.Error() != `unsupported buffer format version "0.2.0"; expected "0.3.0"` {
		t.Fatalf("err = %v", err)
	}
}

func TestSecondWriteToSameBufferIsRefused(t *testing.T) {
	b := newBuffer(t)
	b.writeBytes(t, []byte("first"), WriteOptions{})
	_, err := Write(context.Background(), StaticURL(b.write), strings.NewReader("second"), WriteOptions{})
	if !errors.Is(err, ErrBufferHasData) {
		t.Fatalf("err = %v", err)
	}
	if out, err := b.readAll(context.Background(), ReadOptions{}); err != nil || string(out) != "first" {
		t.Fatalf("after refused rewrite: %q, %v", out, err)
	}
}

func TestWriteWithReadOnlyURLIsRefusedClearly(t *testing.T) {
	b := newBuffer(t)
	_, err := Write(context.Background(), StaticURL(b.read), strings.NewReader("data"), WriteOptions{})
	if !errors.Is(err, ErrWriteNotAllowed) {
		t.Fatalf("err = %v", err)
	}
}

func TestMissingContainerReadsAsMissingBuffer(t *testing.T) {
	b := unCreatedBuffer(t)
	_, err := Write(context.Background(), StaticURL(b.write), strings.NewReader("data"), WriteOptions{})
	if !errors.Is(err, ErrBufferNotFound) || err.Error() != "the buffer does not exist" {
		t.Fatalf("write err = %v", err)
	}
	_, err = b.readAll(context.Background(), ReadOptions{})
	if !errors.Is(err, ErrBufferNotFound) {
		t.Fatalf("read err = %v", err)
	}
}

func TestWriteRejectsBadOptions(t *testing.T) {
	b := newBuffer(t)
	for _, opts := range []WriteOptions{{BlockSize: -1}, {DOP: -3}} {
		if _, err := Write(context.Background(), StaticURL(b.write), strings.NewReader("x"), opts); err == nil {
			t.Errorf("options %+v accepted", opts)
		}
	}
	if exists(t, b, ".bufferstart") {
		t.Error("rejected options still touched the buffer")
	}
}

func TestInputErrorMarksBufferFailedWithoutTerminalBlob(t *testing.T) {
	b := newBuffer(t)
	input := io.MultiReader(bytes.NewReader(genData(0, 3<<10)), iotestErrReader{errors.New("disk on fire")})
	_, err := Write(context.Background(), StaticURL(b.write), input, WriteOptions{BlockSize: 1 << 10})
	if err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("err = %v", err)
	}
	if body, _, _ := storedBlob(t, b, ".bufferend"); body != `{"status":"failed"}` {
		t.Fatalf(".bufferend = %q", body)
	}
	for n := range int64(4) {
		if name := BlobPath(n); exists(t, b, name) {
			if body, _, _ := storedBlob(t, b, name); body == "" {
				t.Fatalf("a terminal empty blob %s was written for a failed input", name)
			}
		}
	}
	if _, err := b.readAll(context.Background(), ReadOptions{}); !errors.Is(err, ErrBufferFailed) {
		t.Fatalf("read err = %v", err)
	}
}

func TestCancelledWriteMarksBufferFailedAndStopsConcurrentReader(t *testing.T) {
	b := newBuffer(t)
	ctx, cancel := context.WithCancel(context.Background())
	readErr := make(chan error, 1)
	go func() {
		_, err := Read(context.Background(), StaticURL(b.read), io.Discard, ReadOptions{DOP: 4})
		readErr <- err
	}()
	var written atomic.Int64
	go func() {
		for written.Load() < 1<<20 {
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
	}()
	_, err := Write(ctx, StaticURL(b.write), &genReader{size: -1},
		WriteOptions{BlockSize: 64 << 10, DOP: 4, Progress: func(n int64) { written.Store(n) }})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("write err = %v, want context.Canceled", err)
	}
	if body, _, _ := storedBlob(t, b, ".bufferend"); body != `{"status":"failed"}` {
		t.Fatalf(".bufferend = %q", body)
	}
	select {
	case err := <-readErr:
		if !errors.Is(err, ErrBufferFailed) {
			t.Fatalf("read err = %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("reader still waiting 20 s after the write was cancelled")
	}
}

func TestExpiredLiteralURLFailsWithErrAccessURLExpired(t *testing.T) {
	b := newBuffer(t)
	expired := sasURL(t, b.admin, sasPerm(true), time.Now().Add(-time.Minute))
	start := time.Now()
	_, err := Write(context.Background(), StaticURL(expired), strings.NewReader("x"), WriteOptions{})
	if !errors.Is(err, ErrAccessURLExpired) || !strings.Contains(err.Error(), "the access URL expired at ") {
		t.Fatalf("write err = %v", err)
	}
	if strings.Contains(err.Error(), "sig=") && !strings.Contains(err.Error(), "sig=REDACTED") {
		t.Fatalf("error leaks the signature: %v", err)
	}
	_, err = Read(context.Background(), StaticURL(expired), io.Discard, ReadOptions{})
	if !errors.Is(err, ErrAccessURLExpired) {
		t.Fatalf("read err = %v", err)
	}
	// A literal URL cannot be renewed: storage's refusal is final, not retried.
	if elapsed := time.Since(start); elapsed > 20*time.Second {
		t.Fatalf("took %v to give up on an expired literal URL", elapsed)
	}
}

func TestConcurrentWritersCannotBothClaimABuffer(t *testing.T) {
	for range 10 {
		b := newBuffer(t)
		inputs := [][]byte{genData(0, 300<<10), genData(7, 300<<10)}
		errs := make([]error, 2)
		start := make(chan struct{})
		done := make(chan struct{})
		for i := range inputs {
			go func() {
				defer func() { done <- struct{}{} }()
				<-start
				_, errs[i] = Write(context.Background(), StaticURL(b.write), bytes.NewReader(inputs[i]), WriteOptions{BlockSize: 64 << 10, DOP: 4})
			}()
		}
		close(start)
		<-done
		<-done
		winners := 0
		var want []byte
		for i, err := range errs {
			switch {
			case err == nil:
				winners++
				want = inputs[i]
			case !errors.Is(err, ErrBufferHasData) || !errors.Is(err, ErrAnotherWriter):
				t.Fatalf("writer %d: %v, want %v", i, err, ErrAnotherWriter)
			}
		}
		if winners != 1 {
			t.Fatalf("%d writers succeeded (errors %v)", winners, errs)
		}
		if out, err := b.readAll(context.Background(), ReadOptions{}); err != nil || !bytes.Equal(out, want) {
			t.Fatalf("read back %d bytes, %v; want the winner's data", len(out), err)
		}
	}
}

func TestRoundTripOf1GiB(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: moving 1 GiB through Azurite takes several seconds")
	}
	b := newBuffer(t)
	const size = 1 << 30
	if _, err := Write(context.Background(), StaticURL(b.write), &genReader{size: size}, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	if _, err := Read(context.Background(), StaticURL(b.read), h, ReadOptions{}); err != nil {
		t.Fatal(err)
	}
	want := sha256.New()
	io.Copy(want, &genReader{size: size})
	if !bytes.Equal(h.Sum(nil), want.Sum(nil)) {
		t.Fatal("SHA-256 differs after the round trip")
	}
}

func TestReadOfFailedBufferWithTerminalBlobFails(t *testing.T) {
	// What a writer with Tyger's input-error quirk may leave behind.
	b := newBuffer(t)
	upload(t, b, ".bufferstart", startBlobBody, "")
	c0 := NextHashChain(InitialHashChain, ContentMD5([]byte("partial")))
	upload(t, b, "00/000", []byte("partial"), c0)
	upload(t, b, "00/001", nil, NextHashChain(c0, ContentMD5(nil)))
	upload(t, b, ".bufferend", endBlobFailed, "")
	if _, err := b.readAll(context.Background(), ReadOptions{}); !errors.Is(err, ErrBufferFailed) {
		t.Fatalf("err = %v, want %v", err, ErrBufferFailed)
	}
}
