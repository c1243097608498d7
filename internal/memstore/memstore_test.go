package memstore_test

import (
	"testing"

	"spool/handler"
	"spool/internal/memstore"
	"spool/internal/storetest"
)

var _ handler.Store = (*memstore.Store)(nil)

func TestMemstoreKeepsTheStoreContract(t *testing.T) {
	storetest.Run(t, func(*testing.T) handler.Store { return memstore.New(memstore.Options{}) })
}
