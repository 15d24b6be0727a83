package mapping

import (
	"path/filepath"
	"slices"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"
)

// metadataYAML is the part of metadata.yaml the consistency tests read.
type metadataYAML struct {
	Events map[string]struct {
		Attributes []string `mapstructure:"attributes"`
	} `mapstructure:"events"`
	ResourceAttributes map[string]any `mapstructure:"resource_attributes"`
	Attributes         map[string]any `mapstructure:"attributes"`
}

func loadMetadata(t *testing.T) metadataYAML {
	t.Helper()
	cm, err := confmaptest.LoadConf(filepath.Join("..", "..", "metadata.yaml"))
	require.NoError(t, err)
	var md metadataYAML
	require.NoError(t, cm.Unmarshal(&md, confmap.WithIgnoreUnused()))
	return md
}

// assertSameSet fails unless the two lists hold the same names.
func assertSameSet(t *testing.T, want, got []string, msg string) {
	t.Helper()
	w, g := slices.Clone(want), slices.Clone(got)
	sort.Strings(w)
	sort.Strings(g)
	assert.Equal(t, w, g, msg)
}

// The attribute names the mapping writes and the ones metadata.yaml declares per event must be the same
// sets: metadata.yaml is the documented contract.
func TestEventAttributesMatchMetadataYAML(t *testing.T) {
	md := loadMetadata(t)
	for event, ours := range map[string][]string{EventMessage: append(slices.Clone(MessageAttributes), PushedAttributes...), EventAudit: AuditAttributes, EventLogFile: LogFileAttributes,
		EventDataStoreOverdue: DataStoreOverdueAttributes, EventArchivingRun: ArchivingRunAttributes, EventExternalLogging: ExternalLoggingAttributes,
		EventMessagePayload: PayloadAttributes, EventMessageSubValues: SubValuesAttributes} {
		assertSameSet(t, md.Events[event].Attributes, ours, event)
	}
	assert.Contains(t, md.ResourceAttributes, AttrTenantURL)
	assert.Contains(t, md.ResourceAttributes, AttrTenantName)
}
