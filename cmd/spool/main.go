// Command spool creates buffers and streams data into and out of them: the control
// plane is spool's /buffers API, and the bytes go straight to Blob Storage.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"spool/client/cli"
)

func main() {
	// The first SIGINT or SIGTERM cancels the run with the signal as its cause, so
	// the transfer gets a moment to mark the buffer failed and the exit status says
	// which signal it was (130, 143). Notification then stops: a second signal ends
	// the process at once.
	ctx, cancel := context.WithCancelCause(context.Background())
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	go func() {
		sig := <-signals
		signal.Stop(signals)
		cancel(cli.Signaled{Signal: sig})
	}()
	code := cli.Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	signal.Stop(signals)
	cancel(nil)
	os.Exit(code)
}
