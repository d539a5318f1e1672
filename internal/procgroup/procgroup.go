// Package procgroup starts a command in a process group of its own and
// signals the whole group, so that a hook's or a test daemon's children go
// with it. On systems without process groups (Windows) it falls back to the
// process alone.
package procgroup
