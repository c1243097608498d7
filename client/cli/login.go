package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/spf13/pflag"

	"spool/client"
	"spool/client/login"
)

// loginCommandFor picks the sign-in command that args (after `spool`) name.
func loginCommandFor(args []string) (command, []string, bool) {
	switch {
	case args[0] == "login" && len(args) > 1 && args[1] == "status":
		return loginStatusCommand(), args[2:], true
	case args[0] == "login":
		return loginCommand(), args[1:], true
	case args[0] == "logout":
		return logoutCommand(), args[1:], true
	}
	return command{}, nil, false
}

func loginCommand() command {
	return command{
		name:     "login",
		topLevel: true,
		args:     "[SERVER_URL] [--use-device-code | --identity [--client-id ID] | --service-principal APP_ID --cert-file FILE | --federated-token-file FILE [--client-id ID] | --azure-cli]",
		summary:  "sign in to a server that needs an Entra ID token",
		about: `Reads SERVER_URL's sign-in metadata (GET /api/metadata), signs in with Entra ID and
remembers the server and the method (not the token) in spool/login.json under the
user's config folder, readable by the user only. Later commands need no flags: they
talk to that server (unless --server-url or SPOOL_SERVER_URL name another, which gets
no token) and send a bearer token on every request, renewed silently as it expires.
SERVER_URL defaults to --server-url or SPOOL_SERVER_URL. SPOOL_FUNCTION_KEY is still
sent alongside the token when set.

Methods (choose at most one):
  (none)                      a browser window for an interactive sign-in
  --use-device-code           a code to enter on another device, for shells without a browser
  --identity                  the managed identity of the Azure VM, container or app this
                              runs on; --client-id picks a user-assigned one
  --service-principal APP_ID  an app registration with a certificate: --cert-file names a PEM
                              file holding the certificate and its private key
  --federated-token-file FILE workload identity federation (Kubernetes, CI): the file is
                              re-read for each token; --client-id defaults to AZURE_CLIENT_ID
  --azure-cli                 the account of 'az login' (az account get-access-token)

Interactive sign-ins keep their tokens in an encrypted cache where the platform has
one, so later commands do not prompt; where it has none, a command that cannot
refresh silently asks for 'spool login' again.`,
		example: "  spool login https://myspool.azurewebsites.net/api\n  spool login https://myspool.azurewebsites.net/api --azure-cli\n  spool buffer list",
		flags:   loginFlagsRun,
	}
}

// loginFlags are spool login's method flags.
type loginFlags struct {
	deviceCode, identity, azureCLI                       bool
	clientID, servicePrincipal, certFile, federatedToken string
}

func loginFlagsRun(a *app, fs *pflag.FlagSet) func(context.Context, []string) error {
	f := &loginFlags{}
	fs.BoolVar(&f.deviceCode, "use-device-code", false, "sign in with a device code instead of a browser")
	fs.BoolVar(&f.identity, "identity", false, "sign in as this machine's managed identity")
	fs.StringVar(&f.clientID, "client-id", "", "the user-assigned managed identity, or the workload identity's client `ID`")
	fs.StringVar(&f.servicePrincipal, "service-principal", "", "sign in as the service principal with this `APP_ID` (needs --cert-file)")
	fs.StringVar(&f.certFile, "cert-file", "", "the service principal's PEM `FILE`: certificate and private key")
	fs.StringVar(&f.federatedToken, "federated-token-file", "", "sign in by workload identity federation with the token in `FILE`")
	fs.BoolVar(&f.azureCLI, "azure-cli", false, "use the account of 'az login'")
	return func(ctx context.Context, args []string) error {
		opts, err := f.options(fs)
		if err != nil {
			return err
		}
		if opts.ServerURL, err = a.loginServerURL(args); err != nil {
			return err
		}
		return a.login(ctx, opts)
	}
}

// options turns the flags into a login with exactly one method.
func (f *loginFlags) options(fs *pflag.FlagSet) (login.Options, error) {
	opts := login.Options{Method: login.Browser, ClientID: f.clientID, CertificatePath: f.certFile, TokenFilePath: f.federatedToken}
	var chosen []string
	pick := func(flag string, m login.Method) {
		if fs.Changed(flag) {
			chosen, opts.Method = append(chosen, "--"+flag), m
		}
	}
	pick("use-device-code", login.DeviceCode)
	pick("identity", login.ManagedIdentity)
	pick("service-principal", login.ServicePrincipal)
	pick("federated-token-file", login.WorkloadIdentity)
	pick("azure-cli", login.AzureCLI)
	switch m := opts.Method; {
	case len(chosen) > 1:
		return opts, usagef("", "%s cannot be combined: choose one way to sign in", strings.Join(chosen, " and "))
	case m == login.ServicePrincipal && (f.servicePrincipal == "" || f.certFile == ""):
		return opts, usagef("", "--service-principal needs the app ID and --cert-file FILE (a PEM with the certificate and its key)")
	case fs.Changed("cert-file") && m != login.ServicePrincipal:
		return opts, usagef("", "--cert-file goes with --service-principal APP_ID")
	case fs.Changed("client-id") && m != login.ManagedIdentity && m != login.WorkloadIdentity:
		return opts, usagef("", "--client-id goes with --identity or --federated-token-file")
	case m == login.WorkloadIdentity && f.federatedToken == "":
		return opts, usagef("", "--federated-token-file needs the token file's path")
	}
	if opts.Method == login.ServicePrincipal {
		opts.ClientID = f.servicePrincipal
	}
	return opts, nil
}

// loginServerURL is the server to sign in to: the argument, else --server-url or
// SPOOL_SERVER_URL, checked and without a trailing slash.
func (a *app) loginServerURL(args []string) (string, error) {
	if len(args) > 1 {
		return "", usagef("", "unexpected argument %q", args[1])
	}
	raw := a.serverURL
	if raw == "" {
		raw = os.Getenv("SPOOL_SERVER_URL")
	}
	if len(args) == 1 {
		raw = args[0]
	}
	if raw == "" {
		return "", usagef("", "missing the SERVER_URL to sign in to")
	}
	c, err := client.New(client.Options{ServerURL: raw, UserAgent: "spool/" + Version()})
	if err != nil {
		return "", usagef("", "SERVER_URL: %v", err)
	}
	if u, _ := url.Parse(raw); u.RawQuery != "" {
		// The login file would keep it: a function key belongs in SPOOL_FUNCTION_KEY.
		return "", usagef("", "SERVER_URL must not carry a query; give a function key in SPOOL_FUNCTION_KEY")
	}
	return c.ServerURL(), nil
}

// login signs in, remembers it and says who is signed in.
func (a *app) login(ctx context.Context, opts login.Options) error {
	path, err := login.DefaultConfigPath()
	if err != nil {
		return err
	}
	opts.ConfigPath = path
	opts.DeviceCodePrompt = func(_ context.Context, m azidentity.DeviceCodeMessage) error {
		_, err := fmt.Fprintln(a.stderr, m.Message)
		return err
	}
	sess, err := login.Login(ctx, opts)
	if err != nil {
		return err
	}
	st := sess.Status(ctx)
	a.notef("Signed in to %s as %s (%s); roles: %s.", st.ServerURL, orUnknown(st.Name), st.Method, rolesOf(st))
	return nil
}

func loginStatusCommand() command {
	return command{
		name:     "login status",
		topLevel: true,
		args:     "",
		summary:  "show the server, identity and roles of the remembered login",
		about: `Prints the remembered server and sign-in method, and from a token got now (without
prompting) who it names, their roles and when it expires. Exits 1 when nobody is
logged in or the login needs 'spool login' again.`,
		example: "  spool login status",
		flags:   withoutArgs((*app).loginStatus),
	}
}

func (a *app) loginStatus(ctx context.Context) error {
	path, err := login.DefaultConfigPath()
	if err != nil {
		return err
	}
	st, err := login.Status(ctx, path)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "server:     %s\nmethod:     %s\n", st.ServerURL, st.Method)
	if !st.SignedIn {
		return fmt.Errorf("no token without signing in again: %w", st.Err)
	}
	fmt.Fprintf(a.stdout, "identity:   %s\n", orUnknown(st.Name))
	if st.ObjectID != "" {
		fmt.Fprintf(a.stdout, "object ID:  %s\n", st.ObjectID)
	}
	fmt.Fprintf(a.stdout, "roles:      %s\ntoken until: %s\n", rolesOf(st), st.ExpiresOn.UTC().Format(time.RFC3339))
	return nil
}

func orUnknown(name string) string {
	if name == "" {
		return "(an identity the token does not name)"
	}
	return name
}

func rolesOf(st login.StatusReport) string {
	if len(st.Roles) == 0 {
		return "none"
	}
	return strings.Join(st.Roles, ", ")
}

func logoutCommand() command {
	return command{
		name:     "logout",
		topLevel: true,
		args:     "",
		summary:  "forget the remembered login",
		about: `Forgets the server and method 'spool login' remembered. Later commands send no
token and talk to --server-url, SPOOL_SERVER_URL or the local default again.
Tokens already in the platform's encrypted cache lapse on their own.`,
		example: "  spool logout",
		flags:   withoutArgs(func(a *app, _ context.Context) error { return a.logout() }),
	}
}

func (a *app) logout() error {
	path, err := login.DefaultConfigPath()
	if err != nil {
		return err
	}
	sess, loadErr := login.Load(path)
	if err := login.Logout(path); err != nil {
		return err
	}
	switch {
	case loadErr == nil:
		a.notef("Logged out of %s.", sess.Config.ServerURL)
	case errors.Is(loadErr, login.ErrNotLoggedIn):
		a.notef("Not logged in.")
	default:
		a.notef("Logged out.")
	}
	return nil
}

// rememberedSession is the login `spool login` remembered, nil when there is none.
func rememberedSession() (*login.Session, error) {
	path, err := login.DefaultConfigPath()
	if err != nil {
		return nil, nil // no config folder: nobody can have logged in
	}
	sess, err := login.Load(path)
	if errors.Is(err, login.ErrNotLoggedIn) {
		return nil, nil
	}
	return sess, err
}

// clientOptions chooses the server (flag, environment, login, default) and, when it
// is the server of the login, the login's tokens: a token is never sent to a server
// it was not got for.
func (a *app) clientOptions(sess *login.Session) client.Options {
	opts := client.Options{ServerURL: a.serverURL, FunctionKey: os.Getenv("SPOOL_FUNCTION_KEY"), HTTPClient: a.apiHTTPClient(),
		UserAgent: "spool/" + Version()}
	if opts.ServerURL == "" {
		opts.ServerURL = os.Getenv("SPOOL_SERVER_URL")
	}
	if sess == nil {
		return opts
	}
	if opts.ServerURL == "" {
		opts.ServerURL = sess.Config.ServerURL
	}
	if sameServer(opts.ServerURL, sess.Config.ServerURL) {
		opts.Authorize = sess.Authorize
	}
	return opts
}

// explainRefusal says what to do about a 401: sign in, or sign in again. A refusal
// when a function key was sent keeps the client's advice to check the key.
func (a *app) explainRefusal(err error) error {
	var apiErr *client.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusUnauthorized {
		return err
	}
	server := a.talkedTo.serverURL
	switch {
	case a.talkedTo.withToken:
		return fmt.Errorf("%s refused the login's token (401%s): run `spool login %s` again", server, messageOf(apiErr), server)
	case os.Getenv("SPOOL_FUNCTION_KEY") == "":
		return fmt.Errorf("%s needs a sign-in (401) and this CLI is not logged in to it: run `spool login %s`, or set SPOOL_FUNCTION_KEY if it takes a function key", server, server)
	}
	return err
}

func messageOf(e *client.APIError) string {
	if e.Message == "" {
		return ""
	}
	return ": " + e.Message
}

// sameServer compares two API roots by scheme, host and path.
func sameServer(a, b string) bool {
	ua, errA := url.Parse(a)
	ub, errB := url.Parse(b)
	return errA == nil && errB == nil &&
		strings.EqualFold(ua.Scheme, ub.Scheme) && strings.EqualFold(ua.Host, ub.Host) &&
		strings.TrimRight(ua.Path, "/") == strings.TrimRight(ub.Path, "/")
}
