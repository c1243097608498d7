package main

import (
	"context"

	"spool/blobstore"
	"spool/handler"
)

// blobs is the blob side as the handler sees it: blobstore's containers, with
// health check failures named for healthz.
type blobs struct{ *blobstore.Containers }

func (b blobs) Ping(ctx context.Context) error {
	if err := b.Containers.Ping(ctx); err != nil {
		return &handler.NotReadyError{Reason: whyNot("blob", err), Err: err}
	}
	return nil
}
