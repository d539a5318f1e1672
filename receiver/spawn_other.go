//go:build !linux

package receiver

// spawn is os/exec's where the Linux fast path does not build.
var spawn = spawnPortable
