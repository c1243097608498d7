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
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// After the first Ctrl-C the transfer gets a moment to mark the buffer
		// failed; a second one should end the process at once.
		<-ctx.Done()
		stop()
	}()
	code := cli.Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
