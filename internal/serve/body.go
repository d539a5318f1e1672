package serve

import (
	"errors"
	"fmt"
	"io"
	"net/http"
)

// ReadBody reads r's body, at most limit bytes. On failure it returns the
// status to answer: 413 for a body over the limit, 400 for a read that
// failed (a dropped connection, a client too slow for the server's read
// timeout), each with a message that says which.
func ReadBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, int, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err == nil {
		return b, 0, nil
	}
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("body larger than %d bytes", limit)
	}
	return nil, http.StatusBadRequest, fmt.Errorf("reading the request body: %w", err)
}
