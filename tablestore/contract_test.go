package tablestore_test

import (
	"testing"

	"spool/handler"
	"spool/internal/storetest"
	"spool/tablestore"
)

var _ handler.Store = (*tablestore.Store)(nil)

func TestTablestoreKeepsTheStoreContract(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) handler.Store { return newStore(t, tablestore.Options{}) })
}
