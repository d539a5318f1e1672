// Package yamlconf holds what selfheal's configuration files share: strict
// YAML decoding whose errors name the file, the line and the key, and value
// types (durations, regular expressions) that keep their parse errors for a
// validation pass that knows where they are. Configuration types follow the
// Prometheus defaults idiom: UnmarshalYAML assigns the type's Default* value
// and then decodes over it, so a default lives in one place and validation
// only checks.
package yamlconf

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	yaml3 "go.yaml.in/yaml/v3"
)

// FieldError is a validation error at a key path such as
// modules.key_service.http.valid_status_codes.0.
type FieldError struct {
	Path []string
	Msg  string
}

func (e *FieldError) Error() string { return e.Msg }

// Under prefixes the path, for errors raised by a nested validate method.
func (e *FieldError) Under(prefix ...string) *FieldError {
	e.Path = append(append([]string{}, prefix...), e.Path...)
	return e
}

// Errorf builds a FieldError at path.
func Errorf(path []string, format string, args ...any) *FieldError {
	return &FieldError{Path: path, Msg: fmt.Sprintf(format, args...)}
}

// ConfigError is a configuration error with the file, line and key it
// concerns, written "FILE:LINE: KEY: MESSAGE" as compilers do.
type ConfigError struct {
	File string
	Line int
	Key  string
	Msg  string
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":")
		b.WriteString(strconv.Itoa(e.Line))
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Locate turns a validation error into a ConfigError by finding its key path
// in the document.
func Locate(doc []byte, err error) error {
	var fe *FieldError
	if !errors.As(err, &fe) {
		return &ConfigError{Msg: err.Error()}
	}
	root := parseNode(doc)
	return &ConfigError{Line: lineOf(root, fe.Path), Key: strings.Join(fe.Path, "."), Msg: fe.Msg}
}

var (
	unknownField = regexp.MustCompile(`^line (\d+): field (\S+) not found in type \S+$`)
	lineMsg      = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
)

// DecodeError rewrites yaml.v2's messages ("line 7: field foo not found in
// type collector.plain") into ConfigErrors that name the key by its path.
func DecodeError(doc []byte, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: unmarshal errors:\n")
	first := strings.TrimSpace(strings.SplitN(msg, "\n", 2)[0])
	if m := unknownField.FindStringSubmatch(first); m != nil {
		line, _ := strconv.Atoi(m[1])
		key := m[2]
		if p := keyPathAt(parseNode(doc), line, m[2]); p != nil {
			key = strings.Join(p, ".")
		}
		return &ConfigError{Line: line, Key: key, Msg: fmt.Sprintf("unknown key %q", m[2])}
	}
	if m := lineMsg.FindStringSubmatch(first); m != nil {
		line, _ := strconv.Atoi(m[1])
		ce := &ConfigError{Line: line, Msg: m[2]}
		if p := valuePathAt(parseNode(doc), line); p != nil {
			ce.Key = strings.Join(p, ".")
		}
		return ce
	}
	return &ConfigError{Msg: strings.TrimPrefix(first, "yaml: ")}
}

func parseNode(doc []byte) *yaml3.Node {
	var n yaml3.Node
	if yaml3.Unmarshal(doc, &n) != nil || len(n.Content) == 0 {
		return nil
	}
	return n.Content[0]
}

// lineOf returns the line of the deepest node on path that exists.
func lineOf(n *yaml3.Node, path []string) int {
	line := 0
	for _, p := range path {
		if n == nil {
			break
		}
		line = n.Line
		next, keyLine := child(n, p)
		if keyLine > 0 {
			line = keyLine
		}
		n = next
	}
	if n != nil && line == 0 {
		line = n.Line
	}
	return line
}

// child finds p in a mapping (by key) or a sequence (by index) and returns
// the child and the line of its key.
func child(n *yaml3.Node, p string) (*yaml3.Node, int) {
	switch n.Kind {
	case yaml3.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == p {
				return n.Content[i+1], n.Content[i].Line
			}
		}
	case yaml3.SequenceNode:
		if i, err := strconv.Atoi(p); err == nil && i >= 0 && i < len(n.Content) {
			return n.Content[i], n.Content[i].Line
		}
	}
	return nil, 0
}

// keyPathAt finds the path of the mapping key named key on line.
func keyPathAt(n *yaml3.Node, line int, key string) []string {
	return walk(n, nil, func(k *yaml3.Node, _ *yaml3.Node) bool { return k != nil && k.Line == line && k.Value == key })
}

// valuePathAt finds the path of a value that starts on line.
func valuePathAt(n *yaml3.Node, line int) []string {
	return walk(n, nil, func(_ *yaml3.Node, v *yaml3.Node) bool { return v.Line == line && v.Kind == yaml3.ScalarNode })
}

func walk(n *yaml3.Node, path []string, match func(k, v *yaml3.Node) bool) []string {
	if n == nil {
		return nil
	}
	switch n.Kind {
	case yaml3.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := append(append([]string{}, path...), k.Value)
			if match(k, v) {
				return p
			}
			if r := walk(v, p, match); r != nil {
				return r
			}
		}
	case yaml3.SequenceNode:
		for i, v := range n.Content {
			p := append(append([]string{}, path...), strconv.Itoa(i))
			if match(nil, v) {
				return p
			}
			if r := walk(v, p, match); r != nil {
				return r
			}
		}
	}
	return nil
}
