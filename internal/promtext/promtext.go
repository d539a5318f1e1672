// Package promtext holds the Prometheus text exposition format as both
// binaries write it: gathered families for /metrics (WriteFamilies), and the
// pieces the exporter writes by hand, for the /probe answer and the
// per-agent series, too hot or too many to go through a registry.
package promtext

import (
	"math"
	"strconv"
)

// ContentType is the text exposition format's content type.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// AppendEscaped escapes backslashes and newlines (and double quotes in
// label values), as the text format requires, copying clean runs whole.
func AppendEscaped(b []byte, s string, quote bool) []byte {
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

// AppendFloat writes a sample value as the format spells it.
func AppendFloat(b []byte, v float64) []byte {
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

// AppendUnixNano writes a Unix-nanosecond time as seconds with millisecond
// precision ("1781856000.123") in integer arithmetic, which costs far less
// than formatting a float for each of a large fleet's timestamps.
func AppendUnixNano(b []byte, ns int64) []byte {
	if ns < 0 {
		return AppendFloat(b, float64(ns)/1e9)
	}
	b = strconv.AppendInt(b, ns/1e9, 10)
	ms := (ns % 1e9) / 1e6
	if ms == 0 {
		return b
	}
	b = append(b, '.', byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10))
	return b
}

// BoolFloat is 1 for true and 0 for false, as 0/1 gauges want.
func BoolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
