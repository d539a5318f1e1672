package store

import (
	"testing"
)

func TestDescribeHidesCredentials(t *testing.T) {
	if d := Describe("", "redis://user:s3cret@redis:6379/0"); d != "redis redis://xxxxx@redis:6379/0" {
		t.Fatalf("Describe = %q", d)
	}
}
