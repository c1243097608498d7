// Package localstack holds the tests of the local stack as a developer runs it:
// `make run` and scripts/run-local.sh (Azurite, the handler and the timer ticks),
// started and stopped the way a user does, with the real spool CLI against it.
package localstack
