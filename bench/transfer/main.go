// Command transfer benchmarks the spool CLI's buffer write and read against plain
// parallel Put Blob / Get Blob through the Azure SDK, both against the same
// disk-backed Azurite, and prints throughput, client CPU and peak memory next to
// the project's goals. `make bench` runs it:
//
//	go run ./bench/transfer -spool ./bin/spool [-size BYTES] [-dir DIR]
//
// The CLI runs as a child process, so its CPU (user+sys) and peak RSS come from
// the kernel's accounting of that process alone. -inprocess calls the transfer
// package directly instead (with -cpuprofile to see where its CPU goes).
//
// Azurite is single-threaded and usually the bottleneck; on a small machine the
// client's own CPU competes with it, so throughput ratios depend on the load
// other processes put on the machine. Run it on a quiet machine.
package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"

	"spool/client/transfer"
	"spool/internal/azurite"
)

const (
	blockSize = 4 << 20
	writeDOP  = 16
	readDOP   = 32
)

type config struct {
	spool     string
	size      int64
	inProcess bool
	workDir   string
	profile   string
}

func main() {
	var cfg config
	flag.StringVar(&cfg.spool, "spool", "./bin/spool", "the spool CLI binary to measure")
	flag.Int64Var(&cfg.size, "size", 1<<30, "bytes to transfer each way")
	flag.BoolVar(&cfg.inProcess, "inprocess", false, "call transfer.Write/Read in this process instead of running the CLI (for development; CPU is then this whole process's, RSS is not measured)")
	flag.StringVar(&cfg.workDir, "dir", "", "directory for the test file and Azurite's data (default: a new temp dir, removed afterwards)")
	flag.StringVar(&cfg.profile, "cpuprofile", "", "with -inprocess, write a CPU profile of the spool transfers to this file")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		stop()
		os.Exit(1)
	}
}

// result is one timed transfer.
type result struct {
	elapsed time.Duration
	cpu     time.Duration // user + sys; 0 when not measured
	maxRSS  int64         // bytes; 0 when not measured
}

func (r result) mbps(size int64) float64 { return float64(size) / 1e6 / r.elapsed.Seconds() }

func run(ctx context.Context, cfg config) error {
	if cfg.size <= 0 || cfg.size%blockSize != 0 {
		return fmt.Errorf("-size must be a positive multiple of %d", blockSize)
	}
	spool, err := filepath.Abs(cfg.spool)
	if err != nil {
		return err
	}
	if !cfg.inProcess {
		if _, err := os.Stat(spool); err != nil {
			return fmt.Errorf("spool CLI: %w (build it with `go build -o bin/spool ./cmd/spool`, or use -inprocess)", err)
		}
	}
	dir := cfg.workDir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "spool-bench-"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
	}
	env, err := prepare(ctx, cfg, dir)
	if err != nil {
		return err
	}
	defer env.az.Stop()

	loadBefore := loadAverage()
	res, err := env.measureAll(ctx, cfg, spool)
	if err != nil {
		return err
	}
	report(cfg, res.spoolWrite, res.baseWrite, res.spoolRead, res.baseRead)
	fmt.Printf("machine: %d CPUs; 1-minute load average %s before the runs, %s after (Azurite and other work share these CPUs)\n",
		runtime.NumCPU(), loadBefore, loadAverage())
	return nil
}

// benchEnv is what every measured transfer needs: the input file with its block
// MD5s, a disk-backed Azurite and one container each for spool and the baseline.
type benchEnv struct {
	input             string
	md5s              [][]byte
	az                *azurite.Instance
	spoolBuf, baseBuf *container.Client
	writeURL, readURL *url.URL
}

func prepare(ctx context.Context, cfg config, dir string) (*benchEnv, error) {
	env := &benchEnv{input: filepath.Join(dir, "input.bin")}
	fmt.Printf("writing %d bytes of gen data to a temp file...\n", cfg.size)
	if err := writeGenFile(env.input, cfg.size); err != nil {
		return nil, err
	}
	fmt.Println("starting disk-backed Azurite...")
	az, err := azurite.Start(azurite.Options{Dir: filepath.Join(dir, "azurite")})
	if err != nil {
		return nil, fmt.Errorf("starting azurite: %w", err)
	}
	env.az = az
	if err := env.makeContainers(ctx); err != nil {
		az.Stop()
		return nil, err
	}
	fmt.Println("computing the baseline's Content-MD5s (not timed)...")
	if env.md5s, err = blockMD5s(env.input, cfg.size); err != nil {
		az.Stop()
		return nil, err
	}
	return env, nil
}

func (env *benchEnv) makeContainers(ctx context.Context) error {
	svc, err := service.NewClientFromConnectionString(env.az.ConnectionString(), nil)
	if err != nil {
		return err
	}
	env.spoolBuf = svc.NewContainerClient("benchspool")
	env.baseBuf = svc.NewContainerClient("benchbaseline")
	for _, c := range []*container.Client{env.spoolBuf, env.baseBuf} {
		if _, err := c.Create(ctx, nil); err != nil {
			return fmt.Errorf("creating container: %w", err)
		}
	}
	if env.writeURL, err = sasURL(env.spoolBuf, sas.ContainerPermissions{Read: true, Create: true}); err != nil {
		return err
	}
	env.readURL, err = sasURL(env.spoolBuf, sas.ContainerPermissions{Read: true})
	return err
}

// results holds the four timed transfers.
type results struct {
	spoolWrite, baseWrite, spoolRead, baseRead result
}

func (env *benchEnv) measureAll(ctx context.Context, cfg config, spool string) (results, error) {
	var res results
	var err error
	fmt.Println("baseline write (azblob Put Blob, dop 16)...")
	if res.baseWrite, err = baselineWrite(ctx, env.baseBuf, env.input, env.md5s); err != nil {
		return res, fmt.Errorf("baseline write: %w", err)
	}
	fmt.Println("spool write...")
	res.spoolWrite, err = measure(ctx, cfg, func() error {
		f, err := os.Open(env.input)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = transfer.Write(ctx, transfer.StaticURL(env.writeURL), f, transfer.WriteOptions{})
		return err
	}, spool, "buffer", "write", env.writeURL.String(), "-i", env.input)
	if err != nil {
		return res, fmt.Errorf("spool write: %w", err)
	}
	fmt.Println("baseline read (azblob Get Blob, dop 32)...")
	if res.baseRead, err = baselineRead(ctx, env.baseBuf, cfg.size); err != nil {
		return res, fmt.Errorf("baseline read: %w", err)
	}
	fmt.Println("spool read...")
	res.spoolRead, err = measure(ctx, cfg, func() error {
		_, err := transfer.Read(ctx, transfer.StaticURL(env.readURL), io.Discard, transfer.ReadOptions{})
		return err
	}, spool, "buffer", "read", env.readURL.String(), "-o", os.DevNull)
	if err != nil {
		return res, fmt.Errorf("spool read: %w", err)
	}
	return res, nil
}

func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	fields := strings.Fields(string(data))
	if len(fields) == 0 {
		return "unknown"
	}
	return fields[0]
}

func sasURL(c *container.Client, perm sas.ContainerPermissions) (*url.URL, error) {
	s, err := c.GetSASURL(perm, time.Now().Add(2*time.Hour), nil)
	if err != nil {
		return nil, fmt.Errorf("making SAS URL: %w", err)
	}
	return url.Parse(s)
}

// writeGenFile writes Tyger's `gen` pattern: byte i is ':' + i%64.
func writeGenFile(path string, size int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	chunk := make([]byte, 1<<20) // a multiple of 64, so every chunk is the same
	for i := range chunk {
		chunk[i] = byte(':' + i%64)
	}
	for written := int64(0); written < size; written += int64(len(chunk)) {
		if _, err := f.Write(chunk[:min(int64(len(chunk)), size-written)]); err != nil {
			f.Close()
			return err
		}
	}
	return f.Close()
}

func blockMD5s(path string, size int64) ([][]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	buf := make([]byte, blockSize)
	var sums [][]byte
	for off := int64(0); off < size; off += blockSize {
		if _, err := f.ReadAt(buf, off); err != nil {
			return nil, err
		}
		sum := md5.Sum(buf)
		sums = append(sums, sum[:])
	}
	return sums, nil
}

// measure runs the CLI as a child process and takes its CPU time and peak RSS
// from the kernel's accounting, or runs inProc in this process with -inprocess.
func measure(ctx context.Context, cfg config, inProc func() error, name string, args ...string) (result, error) {
	if cfg.inProcess {
		if cfg.profile != "" {
			f, err := os.Create(cfg.profile + "." + args[1])
			if err != nil {
				return result{}, err
			}
			defer f.Close()
			if err := pprof.StartCPUProfile(f); err != nil {
				return result{}, err
			}
			defer pprof.StopCPUProfile()
		}
		before := selfCPU()
		start := time.Now()
		err := inProc()
		return result{elapsed: time.Since(start), cpu: selfCPU() - before}, err
	}
	cmd := exec.CommandContext(ctx, name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	elapsed := time.Since(start)
	if err != nil {
		return result{}, fmt.Errorf("%w; stderr: %s", err, lastLines(stderr.String(), 2000))
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return result{}, errors.New("no rusage for the child process")
	}
	return result{
		elapsed: elapsed,
		cpu:     time.Duration(ru.Utime.Nano() + ru.Stime.Nano()),
		maxRSS:  ru.Maxrss * 1024, // Linux reports KiB
	}, nil
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func lastLines(s string, max int) string {
	if len(s) > max {
		return "..." + s[len(s)-max:]
	}
	return s
}

// baselineWrite puts the file as numbered 4 MiB blobs with dop workers and no
// client-side hashing. It still sends the precomputed Content-MD5: without one,
// Azurite computes a slow CRC-64 of every body and the baseline would measure that
// instead of the transport.
func baselineWrite(ctx context.Context, c *container.Client, path string, md5s [][]byte) (result, error) {
	f, err := os.Open(path)
	if err != nil {
		return result{}, err
	}
	defer f.Close()
	var next atomic.Int64
	before, start := selfCPU(), time.Now()
	err = parallel(ctx, writeDOP, func(ctx context.Context) error {
		buf := make([]byte, blockSize)
		for {
			n := next.Add(1) - 1
			if n >= int64(len(md5s)) {
				return nil
			}
			if _, err := f.ReadAt(buf, n*blockSize); err != nil {
				return err
			}
			_, err := c.NewBlockBlobClient(fmt.Sprintf("blob%06d", n)).Upload(ctx, streaming.NopCloser(bytes.NewReader(buf)),
				&blockblob.UploadOptions{TransactionalValidation: blob.TransferValidationTypeMD5(md5s[n])})
			if err != nil {
				return err
			}
		}
	})
	return result{elapsed: time.Since(start), cpu: selfCPU() - before}, err
}

// baselineRead gets the baseline's blobs with dop workers into reused buffers,
// without verifying anything.
func baselineRead(ctx context.Context, c *container.Client, size int64) (result, error) {
	blobs := size / blockSize
	var next atomic.Int64
	before, start := selfCPU(), time.Now()
	err := parallel(ctx, readDOP, func(ctx context.Context) error {
		buf := make([]byte, blockSize)
		for {
			n := next.Add(1) - 1
			if n >= blobs {
				return nil
			}
			resp, err := c.NewBlobClient(fmt.Sprintf("blob%06d", n)).DownloadStream(ctx, nil)
			if err != nil {
				return err
			}
			_, err = io.ReadFull(resp.Body, buf)
			resp.Body.Close()
			if err != nil {
				return err
			}
		}
	})
	return result{elapsed: time.Since(start), cpu: selfCPU() - before}, err
}

func parallel(ctx context.Context, n int, work func(context.Context) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if err := work(ctx); err != nil {
				cancel(err)
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return ctx.Err()
}

func report(cfg config, spoolW, baseW, spoolR, baseR result) {
	gib := float64(cfg.size) / (1 << 30)
	mib := func(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }
	rssGoal := func(dop int64) int64 { return (dop+4)*blockSize + 32<<20 }
	who := "spool CLI (child process)"
	if cfg.inProcess {
		who = "transfer package in-process (CPU includes the whole bench process; RSS not measured)"
	}
	fmt.Printf("\n%s of gen data, %s blocks, against disk-backed Azurite; spool = %s\n", mib(cfg.size), mib(blockSize), who)
	fmt.Println("baseline = azblob Put Blob / Get Blob, same dop, no hashing or verification; it sends Content-MD5s computed before timing, since without them Azurite spends its time on a CRC-64")
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "direction\tspool MB/s\tbaseline MB/s\tratio (goal>=0.95)\tspool CPU s/GiB (goal<=2.0)\tbaseline CPU s/GiB\tspool peak RSS\tRSS goal\t")
	for _, row := range []struct {
		name        string
		spool, base result
		dop         int64
	}{{"write", spoolW, baseW, writeDOP}, {"read", spoolR, baseR, readDOP}} {
		rss := "n/a"
		if row.spool.maxRSS > 0 {
			rss = mib(row.spool.maxRSS)
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%.2f\t%.2f\t%.2f\t%s\t%s\t\n", row.name,
			row.spool.mbps(cfg.size), row.base.mbps(cfg.size), row.spool.mbps(cfg.size)/row.base.mbps(cfg.size),
			row.spool.cpu.Seconds()/gib, row.base.cpu.Seconds()/gib, rss, mib(rssGoal(row.dop)))
	}
	tw.Flush()
}
