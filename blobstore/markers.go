package blobstore

import (
	"context"
	"errors"
	"io"
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"

	"spool/internal/model"
)

// maxEndMarker caps the .bufferend body read: a few dozen bytes of JSON.
const maxEndMarker = 64 << 10

// Markers reads the markers a buffer's writer left in container name: the
// .bufferend body and time, or, while there is none, whether .bufferstart exists.
// Any writer's markers count, one with only a write URL too.
func (bc *Containers) Markers(ctx context.Context, name string) (model.Markers, error) {
	c := bc.service.NewContainerClient(name)
	resp, err := c.NewBlobClient(".bufferend").DownloadStream(ctx, nil)
	switch {
	case err == nil:
		defer resp.Body.Close()
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxEndMarker))
		if err != nil {
			return model.Markers{}, storageError("reading the end marker of "+name, err)
		}
		m := model.Markers{Started: true, End: body}
		if resp.LastModified != nil {
			m.EndedAt = *resp.LastModified
		}
		return m, nil
	case !isMissingBlob(err):
		return model.Markers{}, storageError("reading the end marker of "+name, err)
	}
	if _, err := c.NewBlobClient(".bufferstart").GetProperties(ctx, nil); err != nil {
		if isMissingBlob(err) {
			return model.Markers{}, nil
		}
		return model.Markers{}, storageError("reading the start marker of "+name, err)
	}
	return model.Markers{Started: true}, nil
}

// isMissingBlob is a 404 for a blob: a HEAD's answer has no body, so only its
// status is sure to say so.
func isMissingBlob(err error) bool {
	var re *azcore.ResponseError
	return errors.As(err, &re) && re.StatusCode == http.StatusNotFound && re.ErrorCode != string(bloberror.ContainerNotFound)
}
