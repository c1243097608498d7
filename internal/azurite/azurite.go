// Package azurite starts and stops the pinned Azurite storage emulator (from the
// repository's node_modules) on loopback ports, for tests, benchmarks and `make run`.
//
// Blob and Table run as two separate Node processes: each emulator is single-threaded,
// so on a small machine two processes keep table traffic from queueing behind blob
// transfers.
package azurite

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// Well-known development storage account that Azurite serves.
const (
	AccountName = "devstoreaccount1"
	AccountKey  = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// Options says how to start Azurite.
type Options struct {
	// Dir, when set, persists data on disk there (faster for large transfers and it
	// survives restarts). Empty means in-memory persistence.
	Dir string
	// HTTPS serves TLS with a self-signed certificate for 127.0.0.1 and enables
	// Azurite's basic OAuth, so bearer tokens and user-delegation SAS work.
	HTTPS bool
	// BlobPort and TablePort fix the ports; 0 picks free ones.
	BlobPort, TablePort int
	// Log receives Azurite's own output; nil discards it.
	Log *os.File
}

// Instance is a running pair of Azurite processes.
type Instance struct {
	BlobEndpoint  string // e.g. http://127.0.0.1:41234/devstoreaccount1
	TableEndpoint string
	BlobPort      int
	TablePort     int
	// CertFile is the PEM certificate clients must trust when HTTPS is on.
	CertFile string
	// CertPEM is the same certificate's bytes.
	CertPEM []byte

	opts  Options
	args  []string // flags common to both services, kept for Restart
	procs []*exec.Cmd
	tmp   string
}

// ConnectionString is a full shared-key connection string for both services.
func (in *Instance) ConnectionString() string {
	scheme := "http"
	if in.opts.HTTPS {
		scheme = "https"
	}
	return fmt.Sprintf("DefaultEndpointsProtocol=%s;AccountName=%s;AccountKey=%s;BlobEndpoint=%s;TableEndpoint=%s;",
		scheme, AccountName, AccountKey, in.BlobEndpoint, in.TableEndpoint)
}

// Start launches Azurite and waits until both services accept connections.
func Start(opts Options) (*Instance, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "spool-azurite-")
	if err != nil {
		return nil, err
	}
	in := &Instance{opts: opts, tmp: tmp}
	scheme := "http"
	var tlsArgs []string
	if opts.HTTPS {
		scheme = "https"
		certFile, keyFile, certPEM, err := writeSelfSignedCert(tmp)
		if err != nil {
			in.Stop()
			return nil, err
		}
		in.CertFile, in.CertPEM = certFile, certPEM
		tlsArgs = []string{"--cert", certFile, "--key", keyFile, "--oauth", "basic"}
	}
	persist := []string{"--inMemoryPersistence"}
	if opts.Dir != "" {
		if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
			in.Stop()
			return nil, err
		}
		persist = []string{"--location", opts.Dir}
	}
	common := append([]string{"--skipApiVersionCheck", "--disableTelemetry", "--silent"}, persist...)
	common = append(common, tlsArgs...)
	in.args = common

	for _, svc := range []struct {
		name string
		port *int
		want int
	}{{"blob", &in.BlobPort, opts.BlobPort}, {"table", &in.TablePort, opts.TablePort}} {
		port, err := startService(in, bin, svc.name, svc.want, common)
		if err != nil {
			in.Stop()
			return nil, err
		}
		*svc.port = port
	}
	in.BlobEndpoint = fmt.Sprintf("%s://127.0.0.1:%d/%s", scheme, in.BlobPort, AccountName)
	in.TableEndpoint = fmt.Sprintf("%s://127.0.0.1:%d/%s", scheme, in.TablePort, AccountName)
	return in, nil
}

// startService runs azurite-<name>, retrying with another port if a free port was
// taken by someone else between our probe and Azurite's bind.
func startService(in *Instance, bin, name string, port int, common []string) (int, error) {
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		p := port
		if p == 0 {
			var err error
			if p, err = freePort(); err != nil {
				return 0, err
			}
		}
		args := append([]string{"--" + name + "Host", "127.0.0.1", "--" + name + "Port", strconv.Itoa(p)}, common...)
		cmd := exec.Command(filepath.Join(bin, "azurite-"+name), args...)
		cmd.Dir = in.tmp // Azurite may write files to its working directory; keep them out of the repo
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if in.opts.Log != nil {
			cmd.Stdout, cmd.Stderr = in.opts.Log, in.opts.Log
		}
		if err := cmd.Start(); err != nil {
			return 0, fmt.Errorf("starting azurite-%s: %w", name, err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		if err := waitListening(p, exited, 60*time.Second); err != nil {
			killGroup(cmd)
			lastErr = fmt.Errorf("azurite-%s on port %d: %w", name, p, err)
			if port != 0 {
				break
			}
			continue
		}
		in.procs = append(in.procs, cmd)
		return p, nil
	}
	return 0, lastErr
}

// Stop kills the Azurite processes by PID (never by name: other work shares the
// machine) and removes temporary files.
func (in *Instance) Stop() {
	for _, cmd := range in.procs {
		killGroup(cmd)
	}
	in.procs = nil
	if in.tmp != "" {
		os.RemoveAll(in.tmp)
	}
}

// Kill stops the processes abruptly (SIGKILL) but keeps ports and data, so Restart
// can bring the same endpoints back; used by fault tests.
func (in *Instance) Kill() {
	for _, cmd := range in.procs {
		killGroup(cmd)
	}
	in.procs = nil
}

// Restart starts the services again on the same ports and data after Kill.
func (in *Instance) Restart() error {
	bin, err := binDir()
	if err != nil {
		return err
	}
	for _, svc := range []struct {
		name string
		port int
	}{{"blob", in.BlobPort}, {"table", in.TablePort}} {
		if _, err := startService(in, bin, svc.name, svc.port, in.args); err != nil {
			return err
		}
	}
	return nil
}

func killGroup(cmd *exec.Cmd) {
	if cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	_ = cmd.Process.Kill()
}

func waitListening(port int, exited <-chan error, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("exited early: %v", err)
		default:
		}
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("did not start listening in time")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// binDir finds node_modules/.bin by walking up from the working directory to the
// module root, so tests in any package find the repository's pinned Azurite.
func binDir() (string, error) {
	if d := os.Getenv("SPOOL_AZURITE_BIN"); d != "" {
		return d, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		cand := filepath.Join(dir, "node_modules", ".bin")
		if _, err := os.Stat(filepath.Join(cand, "azurite-blob")); err == nil {
			return cand, nil
		}
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return "", fmt.Errorf("azurite not installed in %s: run `npm ci` (make test does)", filepath.Join(dir, "node_modules"))
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("azurite not found: run `npm ci` in the repository root")
		}
		dir = parent
	}
}

// writeSelfSignedCert makes a throwaway certificate valid for 127.0.0.1 and for the
// product-style host names Azurite understands (devstoreaccount1.blob.localhost).
func writeSelfSignedCert(dir string) (certFile, keyFile string, certPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost", "*.blob.localhost", "*.table.localhost"},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", "", nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return "", "", nil, err
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		return "", "", nil, err
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return "", "", nil, err
	}
	return certFile, keyFile, certPEM, nil
}
