package handler

import "time"

// ParseTimeSpan reads a .NET TimeSpan ([d.]hh:mm:ss[.fffffff], or whole days) the
// way the API reads ttl parameters, for settings that take one (cmd/handler reads
// SPOOL_SOFT_DELETED_LIFETIME with it).
func ParseTimeSpan(s string) (time.Duration, bool) { return parseTimeSpan(s) }

// WithDefaults fills the zero fields of o with the defaults New applies.
func (o LifecycleOptions) WithDefaults() LifecycleOptions { return o.withDefaults() }
