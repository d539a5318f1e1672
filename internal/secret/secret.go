// Package secret reads credentials from files, the only place selfheal
// takes them from, so that they never sit in a configuration or a log.
package secret

import (
	"os"
	"strings"
)

// ReadFile reads a secret, dropping the trailing newline editors add.
func ReadFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}
