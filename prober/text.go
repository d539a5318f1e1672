package prober

import (
	"io"
	"sort"
	"strings"
	"sync"

	"github.com/selfheal/selfheal/internal/promtext"
)

// The /probe endpoint is the exporter's hot path: Prometheus calls it once
// per target per scrape, and a fleet can have thousands of targets. Each
// probe's samples live in a fresh Result that no other request sees, which
// gives the isolation a fresh registry gives, and are written straight in
// the text exposition format: going through a registry, its protobuf
// families and promhttp cost more than the probe itself (docs/design.md).

var textBufPool = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// WriteText writes res in the Prometheus text format, one HELP and TYPE per
// metric name, series sorted by name and then labels, so the output is the
// same as a registry would give.
func WriteText(w io.Writer, res *Result) error {
	samples := make([]*Sample, len(res.Samples))
	for i := range res.Samples {
		samples[i] = &res.Samples[i]
	}
	sort.SliceStable(samples, func(i, j int) bool {
		if samples[i].Name != samples[j].Name {
			return samples[i].Name < samples[j].Name
		}
		return strings.Join(samples[i].LabelValues, "\xff") < strings.Join(samples[j].LabelValues, "\xff")
	})
	bp := textBufPool.Get().(*[]byte)
	b := (*bp)[:0]
	last := ""
	for _, s := range samples {
		if s.Name != last {
			b = append(b, "# HELP "...)
			b = append(b, s.Name...)
			b = append(b, ' ')
			b = promtext.AppendEscaped(b, s.Help, false)
			b = append(b, "\n# TYPE "...)
			b = append(b, s.Name...)
			b = append(b, " gauge\n"...)
			last = s.Name
		}
		b = append(b, s.Name...)
		if len(s.LabelNames) > 0 {
			b = append(b, '{')
			for i, n := range s.LabelNames {
				if i > 0 {
					b = append(b, ',')
				}
				b = append(b, n...)
				b = append(b, '=', '"')
				b = promtext.AppendEscaped(b, s.LabelValues[i], true)
				b = append(b, '"')
			}
			b = append(b, '}')
		}
		b = append(b, ' ')
		b = promtext.AppendFloat(b, s.Value)
		b = append(b, '\n')
	}
	_, err := w.Write(b)
	*bp = b
	textBufPool.Put(bp)
	return err
}
