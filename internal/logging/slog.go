package logging

import (
	"context"
	"log/slog"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
)

// Slog returns a *slog.Logger whose records go through l, so the level
// filter and format of the one configured logger apply to library logs too.
func Slog(l log.Logger) *slog.Logger {
	return slog.New(&handler{logger: l})
}

// handler is a slog.Handler that forwards to a go-kit logger. Filtering is
// left to go-kit's level filter, so Enabled admits everything.
type handler struct {
	logger log.Logger
	attrs  []any
	group  string
}

func (h *handler) Enabled(context.Context, slog.Level) bool { return true }

func (h *handler) Handle(_ context.Context, r slog.Record) error {
	kv := make([]any, 0, 2+len(h.attrs)+2*r.NumAttrs())
	kv = append(kv, "msg", r.Message)
	kv = append(kv, h.attrs...)
	r.Attrs(func(a slog.Attr) bool {
		kv = appendAttr(kv, h.group, a)
		return true
	})
	return levelLogger(h.logger, r.Level).Log(kv...)
}

func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	n := &handler{logger: h.logger, group: h.group, attrs: append([]any{}, h.attrs...)}
	for _, a := range attrs {
		n.attrs = appendAttr(n.attrs, h.group, a)
	}
	return n
}

func (h *handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	g := name
	if h.group != "" {
		g = h.group + "." + name
	}
	return &handler{logger: h.logger, attrs: h.attrs, group: g}
}

func appendAttr(kv []any, group string, a slog.Attr) []any {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return kv
	}
	key := a.Key
	if group != "" {
		key = group + "." + key
	}
	if a.Value.Kind() == slog.KindGroup {
		for _, ga := range a.Value.Group() {
			kv = appendAttr(kv, key, ga)
		}
		return kv
	}
	return append(kv, key, a.Value.Any())
}

func levelLogger(l log.Logger, lv slog.Level) log.Logger {
	switch {
	case lv >= slog.LevelError:
		return level.Error(l)
	case lv >= slog.LevelWarn:
		return level.Warn(l)
	case lv >= slog.LevelInfo:
		return level.Info(l)
	default:
		return level.Debug(l)
	}
}
