//go:build !linux

package receiver

const hookOwnerVar = "SELFHEAL_HOOK_OWNER"

// reapHooks needs /proc to find the marked processes; elsewhere a hook's
// descendants may outlive a crash of the receiver.
func reapHooks(string) (int, error) { return 0, nil }
