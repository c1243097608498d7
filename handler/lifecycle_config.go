package handler

import (
	"fmt"
	"strings"
)

// LifecycleFromEnv reads the lifecycle settings from the environment:
// SPOOL_SOFT_DELETED_LIFETIME, how long a deleted buffer stays restorable when the
// delete names no ttl (a TimeSpan such as 1.00:00:00; default 1 day). Unset means
// the default.
func LifecycleFromEnv(getenv func(string) string) (LifecycleOptions, error) {
	var o LifecycleOptions
	if s := strings.TrimSpace(getenv("SPOOL_SOFT_DELETED_LIFETIME")); s != "" {
		d, ok := parseTimeSpan(s)
		if !ok || d <= 0 {
			return o, fmt.Errorf("SPOOL_SOFT_DELETED_LIFETIME %q must be a positive TimeSpan such as 1.00:00:00", s)
		}
		o.SoftDeletedLifetime = d
	}
	return o.withDefaults(), nil
}
