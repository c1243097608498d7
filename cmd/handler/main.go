// Command handler is spool's control plane as an Azure Functions custom handler: it
// serves the /api routes on 127.0.0.1:$FUNCTIONS_CUSTOMHANDLER_PORT. Configuration
// is read from the environment (see configFromEnv).
//
// It listens first and reaches storage afterwards: the host gives a custom handler
// about 30 s to accept connections, and on a first deploy storage may refuse the app
// for minutes while its role assignments apply. Until the tables exist, healthz
// answers 503 naming what is not ready and the API routes 503 with Retry-After; a
// storage error never stops the handler.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"spool/handler"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	out := logOutputs{info: os.Stdout, problems: os.Stderr}
	err := runLogged(ctx, os.Getenv, out)
	stop()
	if err != nil {
		newLogger(out).Error("handler stopped", "err", err)
		os.Exit(1)
	}
}

// Server timeouts. Request bodies are bounded per request inside the handler, and
// each request's time by handler.Options.RequestTimeout; these bound what happens
// before a request and between requests on a kept-alive connection.
const (
	readHeaderTimeout = 10 * time.Second
	idleTimeout       = 2 * time.Minute
	shutdownTimeout   = 10 * time.Second
)

// run is runLogged with every log line written to stderr.
func run(ctx context.Context, getenv func(string) string, stderr io.Writer) error {
	return runLogged(ctx, getenv, logOutputs{info: stderr, problems: stderr})
}

// runLogged serves until ctx ends. It returns an error only for a configuration it
// cannot use or a port it cannot listen on; storage faults are answered, not fatal.
func runLogged(ctx context.Context, getenv func(string) string, out logOutputs) error {
	logger := newLogger(out)
	cfg, err := configFromEnv(getenv)
	if err != nil {
		return err
	}
	if err := checkAuthLevels(appDir(), cfg.auth.Enabled()); err != nil {
		return err
	}
	store, containers, err := clients(cfg)
	if err != nil {
		return err
	}
	accounts, err := storageAccounts(cfg, containers)
	if err != nil {
		return err
	}
	tables := newTables(store, logger)
	h, err := handler.New(handler.Options{
		Store:            tables,
		Accounts:         accounts,
		DefaultLocation:  cfg.defaultLocation,
		Logger:           logger,
		RequirePrincipal: cfg.requirePrincipal,
		Lifecycle:        cfg.lifecycle,
		Auth:             cfg.auth,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.listenAddr())
	if err != nil {
		return fmt.Errorf("listening: %w", err)
	}
	logger.Info("listening", "addr", cfg.listenAddr(), "location", cfg.location, "sign_in", cfg.auth.Enabled())
	ctx, cancel := context.WithCancel(ctx)
	created := make(chan struct{})
	go func() {
		defer close(created)
		tables.keepCreated(ctx)
	}()
	err = serve(ctx, ln, h)
	cancel()
	<-created
	return err
}

// newServer bounds the time a client may take to send its headers and to keep an
// idle connection open; no ReadTimeout or WriteTimeout, which would cut off the
// handler's own bounds on bodies and requests.
func newServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: readHeaderTimeout, IdleTimeout: idleTimeout}
}

// serve answers on ln until ctx ends, then shuts down gracefully.
func serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := newServer(h)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("serving on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutting down: %w", err)
	}
	return nil
}
