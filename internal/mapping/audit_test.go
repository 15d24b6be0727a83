package mapping

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/sapcpi-otel/sapcpireceiver/internal/btpaudit"
	"github.com/sapcpi-otel/sapcpireceiver/internal/cpi"
)

func TestAuditEntriesFromBothAPIsMapToTheGoldenRecords(t *testing.T) {
	neo := AuditFromOData(cpi.AuditLog{ChangeId: "a1b2", Action: "Deploy", Timestamp: cpi.Time{Time: time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)},
		UserName: "jane.doe@acme.example", ObjName: "Order_In", ObjType: "IntegrationFlow", Source: "10.20.1.2", NodeType: "IFLMAP", UserType: "Tenant User"})
	rec := btpaudit.Record{MessageUUID: "5f0c-1", Time: "2026-06-01T09:05:00.250Z", User: "jane.doe@acme.example", Category: "audit.security-events",
		Message: json.RawMessage(`"{\"ip\":\"203.0.113.9\",\"data\":\"{\\\"action\\\":\\\"Deploy_of_Artifact_Failed\\\",\\\"objectType\\\":\\\"IntegrationFlow\\\",\\\"objectId\\\":\\\"Order_In\\\",\\\"changedAttributes\\\":{\\\"Version\\\":{\\\"oldValue\\\":\\\"1.0.1\\\",\\\"newValue\\\":\\\"1.0.2\\\"}}}\"}"`)}
	btp := AuditFromBTP(rec.Parse())
	assert.Equal(t, "failure", btp.Outcome)
	assert.Equal(t, "unknown", neo.Outcome)
	compareGolden(t, "audit.yaml", testMapper(nil).Audit([]AuditEntry{neo, btp}, observed))
}
