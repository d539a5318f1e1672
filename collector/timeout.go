package collector

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
