package config

import "testing"

func mustConfig(t testing.TB, yml string) *Config {
	t.Helper()
	c, err := ParseConfig([]byte(yml))
	if err != nil {
		t.Fatalf("config: %v\n%s", err, yml)
	}
	return c
}
