package yamlconf

import (
	yaml "go.yaml.in/yaml/v2"
)

// UnmarshalStrict decodes doc into v, refusing keys v has no field for.
// Decoding uses yaml.v2, as Prometheus and prometheus/common do: its syntax
// errors point at the offending line, where v3's point at the start of the
// enclosing block. v3 is used only to find a key's line (Locate), which v2
// has no API for. The errors are yaml's own; DecodeError turns them into
// ConfigErrors.
func UnmarshalStrict(doc []byte, v any) error { return yaml.UnmarshalStrict(doc, v) }
