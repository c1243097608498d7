// Package blobstore is spool's adapter to Azure Blob Storage: it makes and deletes
// the container that holds a buffer's data and signs SAS URLs for it, with an
// account key (service SAS) or with a cached user delegation key (user-delegation
// SAS). Buffer bytes never pass through it.
package blobstore

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"

	"spool/internal/model"
)

// Options says how to reach the Blob Storage account that holds buffer data.
// Exactly one of AccountKey and Credential must be set: an account key signs service
// SAS URLs (Azurite over plain HTTP), a token credential signs user-delegation SAS
// URLs (Azure with a managed identity, or Azurite with HTTPS and OAuth).
type Options struct {
	// Endpoint is the blob service URL, e.g. https://acct.blob.core.windows.net/ or
	// http://127.0.0.1:10000/devstoreaccount1.
	Endpoint    string
	AccountName string
	AccountKey  string
	Credential  azcore.TokenCredential
	// RootCAs, when set, replaces the system roots (to trust Azurite's self-signed
	// certificate).
	RootCAs *x509.CertPool
	// Now is the clock for SAS start and expiry times; nil means time.Now.
	Now func() time.Time
	// Retry bounds each storage call; nil means DefaultRetry.
	Retry *policy.RetryOptions
}

// DefaultRetry bounds what one storage call may cost. The SDK default (3 retries,
// no per-try timeout, waits of up to 60 s, and it honours a server's Retry-After)
// can hold a request for minutes when storage is down or stalls; a request should
// rather fail fast with 503 and let the client retry. cmd/handler gives the table
// client the same bound.
func DefaultRetry() policy.RetryOptions {
	return policy.RetryOptions{MaxRetries: 2, TryTimeout: 10 * time.Second, RetryDelay: 200 * time.Millisecond, MaxRetryDelay: 2 * time.Second}
}

// Containers implements handler.Containers over one storage account.
type Containers struct {
	service     *service.Client
	accountName string
	signer      sasSigner
	now         func() time.Time
}

// sasSigner signs container SAS values; the two implementations differ only in the
// key they sign with.
type sasSigner interface {
	sign(ctx context.Context, v sas.BlobSignatureValues) (sas.QueryParameters, error)
	// protocol is the SAS protocol restriction the signer can promise.
	protocol() sas.Protocol
}

// clockSkew backdates SAS start times so a storage clock slightly behind ours still
// accepts a fresh URL.
const clockSkew = 5 * time.Minute

// New prepares a client for the account described by opts. It does not contact
// storage, so it succeeds while storage is still unreachable.
func New(opts Options) (*Containers, error) {
	if (opts.AccountKey == "") == (opts.Credential == nil) {
		return nil, errors.New("blob storage: set exactly one of an account key and a token credential")
	}
	if opts.AccountName == "" {
		return nil, errors.New("blob storage: account name is required")
	}
	endpoint, err := url.Parse(opts.Endpoint)
	if err != nil || endpoint.Host == "" {
		return nil, fmt.Errorf("blob storage: invalid endpoint %q", opts.Endpoint)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Retry == nil {
		retry := DefaultRetry()
		opts.Retry = &retry
	}
	now := opts.Now
	clientOpts := &service.ClientOptions{ClientOptions: azcore.ClientOptions{Transport: httpClient(opts.RootCAs, "", ""), Retry: *opts.Retry}}
	bc := &Containers{now: now, accountName: opts.AccountName}
	if opts.AccountKey != "" {
		cred, err := service.NewSharedKeyCredential(opts.AccountName, opts.AccountKey)
		if err != nil {
			return nil, fmt.Errorf("blob storage: account key: %w", err)
		}
		if bc.service, err = service.NewClientWithSharedKeyCredential(opts.Endpoint, cred, clientOpts); err != nil {
			return nil, fmt.Errorf("blob storage: %w", err)
		}
		protocol := sas.ProtocolHTTPS
		if endpoint.Scheme == "http" {
			protocol = sas.ProtocolHTTPSandHTTP
		}
		bc.signer = sharedKeySigner{cred: cred, proto: protocol}
		return bc, nil
	}
	if bc.service, err = service.NewClient(opts.Endpoint, opts.Credential, clientOpts); err != nil {
		return nil, fmt.Errorf("blob storage: %w", err)
	}
	keySource, err := delegationKeySource(opts, endpoint, bc.service)
	if err != nil {
		return nil, err
	}
	bc.signer = &userDelegationSigner{keys: keySource, now: now}
	return bc, nil
}

// delegationKeySource works around azblob issue 27390: GetUserDelegationCredential
// takes the account name from the first DNS label of the host, so for an IP-style
// endpoint (Azurite: https://127.0.0.1:PORT/account) it would sign for account "127"
// and every SAS would fail. There the key is fetched through
// https://<account>.blob.localhost:PORT/, dialled to the real address with the TLS
// name of the real host; the signature does not depend on the URL it was fetched from.
func delegationKeySource(opts Options, endpoint *url.URL, normal *service.Client) (*service.Client, error) {
	host := endpoint.Hostname()
	if net.ParseIP(host) == nil && host != "localhost" {
		return normal, nil
	}
	alias := fmt.Sprintf("%s://%s.blob.localhost:%s/", endpoint.Scheme, opts.AccountName, endpoint.Port())
	transport := httpClient(opts.RootCAs, endpoint.Host, host)
	client, err := service.NewClient(alias, opts.Credential,
		&service.ClientOptions{ClientOptions: azcore.ClientOptions{Transport: transport, Retry: *opts.Retry}})
	if err != nil {
		return nil, fmt.Errorf("blob storage: delegation key client: %w", err)
	}
	return client, nil
}

// httpClient returns the transport for the storage clients: nil (the SDK default)
// unless a custom root pool or a fixed dial address is needed.
func httpClient(roots *x509.CertPool, dialAddr, serverName string) policy.Transporter {
	if roots == nil && dialAddr == "" {
		return nil
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{RootCAs: roots, ServerName: serverName, MinVersion: tls.VersionTLS12}
	if dialAddr != "" {
		dialer := &net.Dialer{Timeout: 30 * time.Second}
		t.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
			return dialer.DialContext(ctx, network, dialAddr)
		}
	}
	return &http.Client{Transport: t}
}

// Create makes the container named name.
func (bc *Containers) Create(ctx context.Context, name string) error {
	if _, err := bc.service.CreateContainer(ctx, name, nil); err != nil {
		return storageError("creating container "+name, err)
	}
	return nil
}

// Delete removes the container named name; one that is already gone is no error.
func (bc *Containers) Delete(ctx context.Context, name string) error {
	if _, err := bc.service.DeleteContainer(ctx, name, nil); err != nil {
		if bloberror.HasCode(err, bloberror.ContainerNotFound) {
			return nil
		}
		return storageError("deleting container "+name, err)
	}
	return nil
}

// AccessURL signs a container SAS: sp=r, or sp=rc when writeable. Never w: with
// create but no write permission, storage refuses to overwrite an existing blob.
func (bc *Containers) AccessURL(ctx context.Context, name string, writeable bool, ttl time.Duration) (string, error) {
	now := bc.now().UTC()
	perms := sas.ContainerPermissions{Read: true, Create: writeable}
	qp, err := bc.signer.sign(ctx, sas.BlobSignatureValues{
		Protocol:      bc.signer.protocol(),
		StartTime:     now.Add(-clockSkew),
		ExpiryTime:    now.Add(ttl),
		Permissions:   perms.String(),
		ContainerName: name,
	})
	if err != nil {
		return "", fmt.Errorf("signing SAS for container %s: %w", name, err)
	}
	return bc.service.NewContainerClient(name).URL() + "?" + qp.Encode(), nil
}

type sharedKeySigner struct {
	cred  *service.SharedKeyCredential
	proto sas.Protocol
}

func (s sharedKeySigner) sign(_ context.Context, v sas.BlobSignatureValues) (sas.QueryParameters, error) {
	return v.SignWithSharedKey(s.cred)
}

func (s sharedKeySigner) protocol() sas.Protocol { return s.proto }

// Delegation keys are requested for a day and renewed once less than delegationRenewal of
// their life is left, so a renewal failure has hours of retries before it matters.
const (
	delegationKeyLife  = 24 * time.Hour
	delegationRenewal  = 6 * time.Hour
	delegationKeyStart = 5 * time.Minute
)

type userDelegationSigner struct {
	keys *service.Client
	now  func() time.Time

	mu        sync.Mutex
	cred      *service.UserDelegationCredential
	keyExpiry time.Time
}

func (s *userDelegationSigner) protocol() sas.Protocol { return sas.ProtocolHTTPS }

func (s *userDelegationSigner) sign(ctx context.Context, v sas.BlobSignatureValues) (sas.QueryParameters, error) {
	cred, err := s.credential(ctx, v.ExpiryTime)
	if err != nil {
		return sas.QueryParameters{}, err
	}
	return v.SignWithUserDelegation(cred)
}

// credential returns a cached delegation key, renewing it ahead of expiry. When the
// renewal fails but the old key outlives the SAS being signed, the old key is used.
func (s *userDelegationSigner) credential(ctx context.Context, sasExpiry time.Time) (*service.UserDelegationCredential, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now().UTC()
	if s.cred != nil && now.Before(s.keyExpiry.Add(-delegationRenewal)) {
		return s.cred, nil
	}
	start, expiry := now.Add(-delegationKeyStart), now.Add(delegationKeyLife)
	info := service.KeyInfo{
		Start:  to.Ptr(start.Format(sas.TimeFormat)),
		Expiry: to.Ptr(expiry.Format(sas.TimeFormat)),
	}
	cred, err := s.keys.GetUserDelegationCredential(ctx, info, nil)
	if err != nil {
		if s.cred != nil && sasExpiry.Before(s.keyExpiry) {
			return s.cred, nil
		}
		return nil, storageError("getting a user delegation key", err)
	}
	s.cred, s.keyExpiry = cred, expiry
	return cred, nil
}

// storageError marks faults a retry may cure (throttling, 5xx, no connection, and
// AuthorizationPermissionMismatch, what storage answers while the app's role
// assignments still propagate) as model.ErrUnavailable so clients get 503 and
// Retry-After. Other refusals (a wrong key: AuthenticationFailed on Azure,
// AuthorizationFailure on Azurite) stay errors.
func storageError(op string, err error) error {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		if re.StatusCode >= 500 || re.StatusCode == http.StatusTooManyRequests || re.StatusCode == http.StatusRequestTimeout ||
			re.ErrorCode == string(bloberror.AuthorizationPermissionMismatch) {
			return fmt.Errorf("%s: %w: %w", op, model.ErrUnavailable, err)
		}
		return fmt.Errorf("%s: %w", op, err)
	}
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("%s: %w", op, err)
	}
	return fmt.Errorf("%s: %w: %w", op, model.ErrUnavailable, err)
}
