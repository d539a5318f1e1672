package prober

import (
	"strconv"
	"time"
)

// parseSeconds parses the X-Prometheus-Scrape-Timeout-Seconds header.
func parseSeconds(s string) (time.Duration, bool) {
	if s == "" {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f <= 0 || f > 86400 {
		return 0, false
	}
	return time.Duration(f * float64(time.Second)), true
}

// ScrapeBudget is how long the exporter may take to answer a scrape whose
// X-Prometheus-Scrape-Timeout-Seconds is header: the timeout less offset, or
// half of it when the offset would leave nothing.
func ScrapeBudget(header string, offset time.Duration) (time.Duration, bool) {
	s, ok := parseSeconds(header)
	if !ok {
		return 0, false
	}
	if t := s - offset; t > 0 {
		return t, true
	}
	return s / 2, true
}
