package tablestore

import (
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
)

// Hooks for the external tests, which plant index entries as a crash would leave them.
var (
	OrderRowKey    = orderRowKey
	TagPartition   = tagPartition
	OrderPartition = orderPartition
	LeftoverAge    = leftoverAge
	CopyEntity     = copyEntity
)

func (s *Store) OrderTable() *aztables.Client { return s.order }
func (s *Store) TagTable() *aztables.Client   { return s.tags }
