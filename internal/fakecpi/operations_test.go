package fakecpi

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestEntityPathsSplitAtTheirKeyPredicate(t *testing.T) {
	tests := map[string]struct {
		ok   bool
		want entityPath
		norm string
	}{
		"NumberRanges": {true, entityPath{set: "NumberRanges"}, "NumberRanges"},
		"MessageProcessingLogs('AG1')/Attachments": {true, entityPath{set: "MessageProcessingLogs", keys: map[string]string{"": "AG1"}, rest: "Attachments"},
			"MessageProcessingLogs/Attachments"},
		"DataStores(DataStoreName='a/b',IntegrationFlow='',Type='AS2')/Entries": {true,
			entityPath{set: "DataStores", keys: map[string]string{"DataStoreName": "a/b", "IntegrationFlow": "", "Type": "AS2"}, rest: "Entries"}, "DataStores/Entries"},
		"MessageStoreEntries('it''s')/$value": {true, entityPath{set: "MessageStoreEntries", keys: map[string]string{"": "it's"}, rest: "$value"}, "MessageStoreEntries/$value"},
		"DataStores(DataStoreName='a'":        {ok: false},
		"Queues(42)":                          {ok: false},
	}
	for in, tt := range tests {
		t.Run(in, func(t *testing.T) {
			got, ok := parseEntityPath(in)
			assert.Equal(t, tt.ok, ok)
			if tt.ok {
				assert.Equal(t, tt.want, got)
				assert.Equal(t, tt.norm, got.normalized())
			}
		})
	}
}

func TestANavigationCanBeDeniedWhateverItsKey(t *testing.T) {
	sim := New(Options{Backlog: 50, ForbiddenPaths: []string{"MessageProcessingLogs/Attachments"}})
	srv := httptest.NewServer(sim.Handler())
	defer srv.Close()
	resp, _ := get(t, srv, sim, "MessageProcessingLogs('AGx')/Attachments", url.Values{})
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	resp, _ = get(t, srv, sim, "MessageProcessingLogs", url.Values{})
	assert.Equal(t, http.StatusOK, resp.StatusCode, "the messages themselves stay readable")
}
