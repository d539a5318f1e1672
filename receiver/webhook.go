package receiver

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/selfheal/selfheal/internal/serve"
)

// DefaultMaxBody bounds a webhook body. Alertmanager batches can be large
// (max_alerts 0 sends every alert of a group), so the limit is generous.
const DefaultMaxBody = 4 << 20

// WebhookHandler serves POST /webhook. Credentials are checked in front of
// it (serve.Protect), as for every endpoint.
type WebhookHandler struct {
	Engine  *Engine
	Logger  log.Logger
	MaxBody int64
}

// Message is an Alertmanager webhook body (version 4), declared here
// rather than imported: Alertmanager's notify/webhook package links the
// whole of its notification pipeline, and its template package its
// templating.
type Message struct {
	*Data
	Version         string `json:"version"`
	GroupKey        string `json:"groupKey"`
	TruncatedAlerts uint64 `json:"truncatedAlerts"`
}

// Data is the alerts of a webhook body: the fields of Alertmanager's
// template.Data.
type Data struct {
	Receiver          string            `json:"receiver"`
	Status            string            `json:"status"`
	Alerts            []Alert           `json:"alerts"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
}

// Alert is one alert of a webhook body: the fields of Alertmanager's
// Alert.
type Alert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// DecodeMessage reads an Alertmanager webhook body (version 4).
func DecodeMessage(body []byte) (*Message, error) {
	var msg Message
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&msg); err != nil {
		return nil, fmt.Errorf("malformed JSON: %w", err)
	}
	if dec.More() {
		return nil, errors.New("malformed JSON: trailing data after the message")
	}
	if msg.Version != "4" {
		return nil, fmt.Errorf("unsupported webhook version %q: want \"4\"", msg.Version)
	}
	if msg.Data == nil {
		return nil, errors.New("no alerts in the message")
	}
	for i, a := range msg.Alerts {
		if a.Status != "firing" && a.Status != "resolved" {
			return nil, fmt.Errorf("alert %d: status %q is neither firing nor resolved", i, a.Status)
		}
		if len(a.Labels) == 0 {
			return nil, fmt.Errorf("alert %d has no labels", i)
		}
		if a.Labels["alertname"] == "" {
			return nil, fmt.Errorf("alert %d has no alertname", i)
		}
	}
	return &msg, nil
}

func (h *WebhookHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "use POST", http.StatusMethodNotAllowed)
		return
	}
	limit := h.MaxBody
	if limit <= 0 {
		limit = DefaultMaxBody
	}
	body, status, err := serve.ReadBody(w, r, limit)
	if err != nil {
		http.Error(w, err.Error(), status)
		return
	}
	msg, err := DecodeMessage(body)
	if err != nil {
		// Alertmanager does not retry a 4xx: the message is wrong, a retry
		// would be too.
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	res, err := h.Engine.Accept(r.Context(), msg.Alerts)
	if err != nil {
		// Alertmanager retries a 5xx.
		level.Warn(h.Logger).Log("msg", "Webhook not accepted", "err", err)
		w.Header().Set("Retry-After", "10")
		http.Error(w, strings.SplitN(err.Error(), "\n", 2)[0], http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(res)
}
