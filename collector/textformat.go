package collector

import (
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// The /probe endpoint is the exporter's hot path: Prometheus calls it once
// per target per scrape, and a fleet can have thousands of targets. Each
// probe's samples live in a fresh Result that no other request sees, which
// gives the isolation a fresh registry gives, and are written straight in
// the text exposition format: going through a registry, its protobuf
// families and promhttp cost more than the probe itself (see the README's
// performance section).

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
			b = appendEscaped(b, s.Help, false)
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
				b = appendEscaped(b, s.LabelValues[i], true)
				b = append(b, '"')
			}
			b = append(b, '}')
		}
		b = append(b, ' ')
		b = appendFloat(b, s.Value)
		b = append(b, '\n')
	}
	_, err := w.Write(b)
	*bp = b
	textBufPool.Put(bp)
	return err
}

// appendEscaped escapes backslashes and newlines (and double quotes in
// label values), as the text format requires, copying clean runs whole.
func appendEscaped(b []byte, s string, quote bool) []byte {
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' && c != '\n' && (c != '"' || !quote) {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '\\':
			b = append(b, '\\', '\\')
		case '\n':
			b = append(b, '\\', 'n')
		default:
			b = append(b, '\\', '"')
		}
		start = i + 1
	}
	return append(b, s[start:]...)
}

func appendFloat(b []byte, v float64) []byte {
	switch {
	case math.IsInf(v, 1):
		return append(b, "+Inf"...)
	case math.IsInf(v, -1):
		return append(b, "-Inf"...)
	case math.IsNaN(v):
		return append(b, "NaN"...)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

// appendUnixNano writes a Unix-nanosecond time as seconds with millisecond
// precision ("1781856000.123") using integer arithmetic: formatting 100,000
// timestamps as floats was a fifth of a large scrape.
func appendUnixNano(b []byte, ns int64) []byte {
	if ns < 0 {
		return appendFloat(b, float64(ns)/1e9)
	}
	b = strconv.AppendInt(b, ns/1e9, 10)
	ms := (ns % 1e9) / 1e6
	if ms == 0 {
		return b
	}
	b = append(b, '.', byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10))
	return b
}
