// Command handler is spool's control plane as an Azure Functions custom handler: it
// serves the /api routes on 127.0.0.1:$FUNCTIONS_CUSTOMHANDLER_PORT. Configuration
// is read from the environment; see handler.ConfigFromEnv.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"spool/handler"
)

func main() {
	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, logger); err != nil {
		logger.Error("handler stopped", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, logger *slog.Logger) error {
	cfg, err := handler.ConfigFromEnv(os.Getenv)
	if err != nil {
		return err
	}
	// The host gives a custom handler 60 s to start listening.
	connectCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	opts, err := handler.Connect(connectCtx, cfg)
	cancel()
	if err != nil {
		return err
	}
	opts.Logger = logger
	if opts.Lifecycle, err = handler.LifecycleFromEnv(os.Getenv); err != nil {
		return err
	}
	h, err := handler.New(opts)
	if err != nil {
		return err
	}
	srv := &http.Server{Addr: cfg.ListenAddr(), Handler: h, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.ListenAndServe() }()
	logger.Info("listening", "addr", cfg.ListenAddr(), "location", cfg.Location)
	select {
	case err := <-served:
		return fmt.Errorf("serving on %s: %w", cfg.ListenAddr(), err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutting down: %w", err)
	}
	return nil
}
