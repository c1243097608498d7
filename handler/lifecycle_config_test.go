package handler

import (
	"testing"
	"time"
)

func TestSoftDeletedLifetimeComesFromTheEnvironmentAsATimeSpan(t *testing.T) {
	for value, want := range map[string]time.Duration{"": 24 * time.Hour, "0.12:00:00": 12 * time.Hour, "7": 7 * 24 * time.Hour} {
		o, err := LifecycleFromEnv(env{"SPOOL_SOFT_DELETED_LIFETIME": value}.get)
		if err != nil || o.SoftDeletedLifetime != want {
			t.Errorf("%q: %v, %v; want %v", value, o.SoftDeletedLifetime, err, want)
		}
	}
	for _, value := range []string{"0", "a day", "-1.00:00:00", "1.25:00:00"} {
		if _, err := LifecycleFromEnv(env{"SPOOL_SOFT_DELETED_LIFETIME": value}.get); err == nil {
			t.Errorf("%q accepted", value)
		}
	}
}
