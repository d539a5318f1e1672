package heartbeat

import (
	"github.com/prometheus/common/config"

	"github.com/selfheal/selfheal/internal/yamlconf"
)

// testConfig is the part of the exporter's configuration this package reads.
type testConfig struct {
	Agents []*Group  `yaml:"agents"`
	API    APIConfig `yaml:"api"`
}

// parseConfig decodes and validates yml as the exporter does, with file
// paths relative to dir ("" leaves them as written).
func parseConfig(yml []byte, dir string) (*testConfig, error) {
	c := &testConfig{}
	if err := yamlconf.UnmarshalStrict(yml, c); err != nil {
		return nil, err
	}
	if err := ValidateGroups(c.Agents); err != nil {
		return nil, err
	}
	if dir != "" {
		for _, g := range c.Agents {
			g.SetDirectory(dir)
		}
		c.API.AdminTokenFile = config.JoinDir(dir, c.API.AdminTokenFile)
	}
	return c, nil
}
