package fakecpi

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type rec map[string]string

func (r rec) stringField(n string) (string, bool) { v, ok := r[n]; return v, ok }
func (r rec) timeField(n string) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339, r[n])
	return t, err == nil
}

func TestFilterEvaluatesTheSubsetClientsUse(t *testing.T) {
	r := rec{"Status": "FAILED", "IntegrationArtifact/Id": "O'Brien_Flow", "LogEnd": "2024-06-01T10:00:00Z"}
	tests := map[string]bool{
		"Status eq 'FAILED'": true,
		"Status ne 'FAILED'": false,
		"LogEnd ge datetime'2024-06-01T10:00:00.000' and LogEnd lt datetime'2024-06-01T11:00:00'":     true,
		"LogEnd gt datetime'2024-06-01T10:00:00'":                                                     false,
		"(Status eq 'COMPLETED' or Status eq 'FAILED') and IntegrationArtifact/Id eq 'O''Brien_Flow'": true,
		"Status eq 'COMPLETED' or Status eq 'RETRY'":                                                  false,
	}
	for f, want := range tests {
		e, err := parseFilter(f, mplFields)
		require.NoError(t, err, f)
		assert.Equal(t, want, e.eval(r), f)
	}
}

func TestFilterRejectsWhatATenantWouldNotUnderstand(t *testing.T) {
	for _, f := range []string{
		"LogEnd ge datetime'2024-06-01T10:00:00Z'", // zone suffix: silently wrong on a real tenant
		"Nope eq 'x'",
		"Status like 'x'",
		"Status eq FAILED",
		"(Status eq 'x'",
		"Status eq 'x",
	} {
		_, err := parseFilter(f, mplFields)
		assert.Error(t, err, f)
	}
}

func TestLowerBoundIsFoundOnlyInConjunctions(t *testing.T) {
	e, err := parseFilter("Status eq 'A' and LogEnd ge datetime'2024-06-01T10:00:00' and LogEnd gt datetime'2024-06-01T09:00:00'", mplFields)
	require.NoError(t, err)
	lb, ok := lowerBound(e, "LogEnd")
	require.True(t, ok)
	assert.Equal(t, time.Date(2024, 6, 1, 10, 0, 0, 0, time.UTC), lb)
	e, err = parseFilter("Status eq 'A' or LogEnd ge datetime'2024-06-01T10:00:00'", mplFields)
	require.NoError(t, err)
	_, ok = lowerBound(e, "LogEnd")
	assert.False(t, ok, "a disjunction cannot seek")
}
