//go:build !linux

package exec

// ReapHooks needs /proc to find the marked processes; elsewhere a hook's
// descendants may outlive a crash of the receiver.
func ReapHooks(string) (int, error) { return 0, nil }
