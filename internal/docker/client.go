// Package docker is the few Docker Engine API calls selfheal's docker action
// needs (ping, inspect, start, stop, restart), with API version negotiation.
// The official client would bring the Engine's module and its dependencies
// for four endpoints; docs/design.md says more.
package docker

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// API versions this client speaks: the endpoints it uses are unchanged over
// this range, and an engine that reports a newer version is spoken to at
// MaxAPIVersion, as the official client's negotiation does.
const (
	MinAPIVersion = "1.24"
	MaxAPIVersion = "1.51"
)

// maxBody bounds what is read of an engine's answer.
const maxBody = 1 << 20

// Client calls one engine. Base is "http://docker" for a unix socket (the
// HTTP client dials the socket) or http(s)://host:port.
type Client struct {
	HTTP *http.Client
	Base string
}

// APIError is the engine's refusal: its status and its own message.
type APIError struct {
	Status  int
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("docker engine: %s (HTTP %d)", e.Message, e.Status)
}

// NotFound tells whether err is the engine saying that the container does
// not exist.
func NotFound(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == http.StatusNotFound
}

// Container is what inspect tells of a container that the action uses.
type Container struct {
	ID    string `json:"Id"`
	Name  string `json:"Name"`
	State struct {
		Status     string    `json:"Status"` // created, running, restarting, exited, dead, ...
		Running    bool      `json:"Running"`
		Restarting bool      `json:"Restarting"`
		Pid        int       `json:"Pid"`
		ExitCode   int       `json:"ExitCode"`
		Error      string    `json:"Error"`
		StartedAt  time.Time `json:"StartedAt"`
		Health     *struct {
			Status string `json:"Status"` // starting, healthy, unhealthy
		} `json:"Health"`
	} `json:"State"`
	RestartCount int `json:"RestartCount"`
}

// Health returns the healthcheck's status, or "" without a healthcheck.
func (c *Container) Health() string {
	if c.State.Health == nil {
		return ""
	}
	return c.State.Health.Status
}

// Negotiate asks the engine for its API version (GET /_ping) and returns
// the one to speak: the engine's, capped at MaxAPIVersion.
func (c *Client) Negotiate(ctx context.Context) (string, error) {
	resp, err := c.do(ctx, http.MethodGet, "/_ping", nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if err := check(resp); err != nil {
		return "", err
	}
	v := resp.Header.Get("Api-Version")
	if v == "" {
		return "", errors.New("docker engine: /_ping answered without an Api-Version header")
	}
	if !versionAtLeast(v, MinAPIVersion) {
		return "", fmt.Errorf("docker engine speaks API %s, older than %s", v, MinAPIVersion)
	}
	if versionAtLeast(v, MaxAPIVersion) {
		return MaxAPIVersion, nil
	}
	return v, nil
}

// Inspect returns the container's state (GET /containers/{name}/json).
func (c *Client) Inspect(ctx context.Context, version, name string) (*Container, error) {
	resp, err := c.do(ctx, http.MethodGet, "/v"+version+"/containers/"+url.PathEscape(name)+"/json", nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if err := check(resp); err != nil {
		return nil, err
	}
	var ct Container
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxBody)).Decode(&ct); err != nil {
		return nil, fmt.Errorf("docker engine: decoding inspect of %s: %w", name, err)
	}
	return &ct, nil
}

// Ops the engine is asked for.
const (
	OpRestart = "restart"
	OpStart   = "start"
	OpStop    = "stop"
)

// ErrNotModified is the engine's 304: the container was already started
// (start) or already stopped (stop).
var ErrNotModified = errors.New("not modified")

// Do asks the engine to start, stop or restart the container; stop and
// restart give it stopTimeout to stop before it is killed.
func (c *Client) Do(ctx context.Context, version, op, name string, stopTimeout time.Duration) error {
	path := "/v" + version + "/containers/" + url.PathEscape(name) + "/" + op
	if op != OpStart {
		path += "?t=" + strconv.Itoa(int(stopTimeout.Seconds()))
	}
	resp, err := c.do(ctx, http.MethodPost, path, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotModified {
		return ErrNotModified
	}
	return check(resp)
}

func (c *Client) do(ctx context.Context, method, path string, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, body)
	if err != nil {
		return nil, err
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("docker engine: %w", err)
	}
	return resp, nil
}

// check turns an answer outside 2xx into an APIError with the engine's
// message ({"message": "..."}), or the start of the body.
func check(resp *http.Response) error {
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	var m struct {
		Message string `json:"message"`
	}
	msg := strings.TrimSpace(string(b))
	if json.Unmarshal(b, &m) == nil && m.Message != "" {
		msg = m.Message
	}
	if msg == "" {
		msg = http.StatusText(resp.StatusCode)
	}
	return &APIError{Status: resp.StatusCode, Message: msg}
}

// versionAtLeast compares "major.minor" API versions.
func versionAtLeast(v, least string) bool {
	vm, vn := splitVersion(v)
	mm, mn := splitVersion(least)
	return vm > mm || vm == mm && vn >= mn
}

func splitVersion(v string) (int, int) {
	a, b, _ := strings.Cut(v, ".")
	major, _ := strconv.Atoi(a)
	minor, _ := strconv.Atoi(b)
	return major, minor
}

// Logs returns the container's last n lines of stdout and stderr
// (GET /containers/{name}/logs), at most maxLogs bytes of them.
func (c *Client) Logs(ctx context.Context, version, name string, n int) (string, error) {
	path := "/v" + version + "/containers/" + url.PathEscape(name) + "/logs?stdout=1&stderr=1&tail=" + strconv.Itoa(n)
	resp, err := c.do(ctx, http.MethodGet, path, nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if err := check(resp); err != nil {
		return "", err
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxLogs))
	if err != nil {
		return "", fmt.Errorf("docker engine: reading logs of %s: %w", name, err)
	}
	return Demux(b), nil
}

// maxLogs bounds the logs read from the engine.
const maxLogs = 256 << 10

// Demux joins the payloads of the engine's multiplexed log stream (frames
// of an 8-byte header, stream and big-endian size, then the payload); a
// container with a TTY sends its log raw, which comes back as it is.
func Demux(b []byte) string {
	var out []byte
	for rest := b; len(rest) > 0; {
		if len(rest) < 8 || rest[0] > 2 || rest[1] != 0 || rest[2] != 0 || rest[3] != 0 {
			return string(b) // not a multiplexed stream
		}
		size := int(binary.BigEndian.Uint32(rest[4:8]))
		if size > len(rest)-8 {
			size = len(rest) - 8 // cut by the read limit
		}
		out = append(out, rest[8:8+size]...)
		rest = rest[8+size:]
	}
	return string(out)
}
