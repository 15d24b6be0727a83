package mapping

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sapcpi-otel/sapcpireceiver/internal/cpi"
)

var invNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func at(d time.Duration) cpi.Time { return cpi.Time{Time: invNow.Add(d)} }

func sampleObjects() []Object {
	art := cpi.IntegrationRuntimeArtifact{Id: "Send_Invoice", Version: "1.0.4", Name: "Send Invoice", Type: "INTEGRATION_FLOW",
		DeployedBy: "jane.doe@acme.example", DeployedOn: at(-48 * time.Hour), Status: "ERROR"}
	ep := cpi.ServiceEndpoint{Name: "Order_In", Id: "Order_In$endpointAddress=cxf/orders", Title: "Order In", Version: "2.0.1", Protocol: "SOAP",
		LastUpdated: at(-time.Hour), EntryPoints: cpi.Expanded[cpi.EntryPoint]{{Name: "Order_In", Url: "https://t.example/cxf/orders", Type: "PROD"}},
		ApiDefinitions: cpi.Expanded[cpi.APIDefinition]{{Url: "https://t.example/cxf/orders?wsdl", Name: "wsdl"}}}
	key := cpi.KeystoreEntry{Alias: "partner_cert", Type: "Certificate", Owner: "Tenant Administrator", KeyType: "RSA", KeySize: 2048,
		ValidNotBefore: at(-300 * 24 * time.Hour), ValidNotAfter: at(12 * 24 * time.Hour), SerialNumber: "0x0A", SignatureAlgorithm: "SHA256withRSA",
		SubjectDN: "CN=partner", IssuerDN: "CN=CA", FingerprintSha1: "AA:BB", FingerprintSha256: "CC:DD", LastModifiedBy: "jane", LastModifiedTime: at(-time.Hour)}
	expired := key
	expired.Alias, expired.ValidNotAfter = "old_cert", at(-24*time.Hour)
	pkg := cpi.IntegrationPackage{Id: "OrderToCash", Name: "Order to Cash", Version: "1.2.0", Vendor: "Acme", Mode: "EDIT_ALLOWED",
		CreatedBy: "john", CreationDate: at(-400 * 24 * time.Hour), ModifiedBy: "jane", ModifiedDate: at(-24 * time.Hour)}
	jms := cpi.JmsBroker{Key: "Broker1", Capacity: 8_500_000_000, MaxCapacity: 9_300_000_000, QueueNumber: 3, MaxQueueNumber: 30, IsMessageSpoolHigh: 1,
		QueueStates: cpi.Expanded[cpi.QueueState]{{Name: "Q1", State: 0}, {Name: "Q2", State: 1}, {Name: "Q3", State: 2}}}
	view := InventoryRow{Artifact: art, PackageID: "OrderToCash", PackageName: "Order to Cash", DesigntimeVersion: "1.1.0",
		EndpointURLs: []string{"https://t.example/http/invoice"}, Protocols: []string{"REST"}}
	return []Object{
		RuntimeArtifactObject(art, "Failed to create route: no credential alias 'ariba_basic'"),
		ServiceEndpointObject(ep, true),
		KeystoreEntryObject("system", key, invNow, 30*24*time.Hour),
		KeystoreEntryObject("system", expired, invNow, 30*24*time.Hour),
		IntegrationPackageObject(pkg, []string{"Order_In", "Send_Invoice"}),
		JMSBrokerObject(jms),
		InventoryObject(view),
	}
}

func TestInventoryObjectsMapToTheGoldenRecords(t *testing.T) {
	objs := sampleObjects()
	changed := objs[0]
	changes := []Change{
		{Type: "updated", Object: changed, Changed: []string{AttrArtifactStatus}},
		{Type: "deleted", Object: Object{Event: EventRuntimeArtifact, Key: "Old_Flow", Resource: []Field{{AttrArtifactID, "Old_Flow"}}}},
	}
	got := testMapper(nil).Inventory(objs, changes, observed)
	compareGolden(t, "inventory.yaml", got)
}

func TestDiffFindsCreatedUpdatedAndDeleted(t *testing.T) {
	objs := sampleObjects()[:6] // the view keys rows by artifact id too; each source diffs its own state
	prev := map[string]map[string]string{}
	res := map[string]map[string]string{}
	ev := map[string]string{}
	for _, o := range objs[1:] {
		prev[o.Key], res[o.Key], ev[o.Key] = o.Compare(), o.ResourceStrings(), o.Event
	}
	prev["gone"], res["gone"], ev["gone"] = map[string]string{AttrArtifactID: "gone"}, map[string]string{AttrArtifactID: "gone"}, EventRuntimeArtifact
	jms := objs[5]
	jms.Attrs[0].Value = int64(1) // capacity moves on every poll: volatile, not a change
	current := append([]Object{objs[0]}, objs[1:]...)
	current[5] = jms
	ep := current[1]
	ep.Attrs = slices.Clone(ep.Attrs)
	ep.Attrs[5] = Field{AttrEndpointActive, false}
	current[1] = ep

	changes := Diff(prev, res, ev, current)
	kinds := map[string]string{}
	for _, c := range changes {
		kinds[c.Object.Key] = c.Type
		if c.Type == "updated" {
			assert.Equal(t, []string{AttrEndpointActive}, c.Changed)
		}
	}
	assert.Equal(t, map[string]string{"Send_Invoice": "created", "gone": "deleted", ep.Key: "updated"}, kinds)
}

// Every attribute an inventory object can carry is declared for its event in metadata.yaml, and every
// resource attribute among the resource attributes.
func TestInventoryAttributesAreDeclaredInMetadataYAML(t *testing.T) {
	md := loadMetadata(t)
	for _, o := range sampleObjects() {
		declared := md.Events[o.Event].Attributes
		require.NotEmpty(t, declared, o.Event)
		changed := md.Events[o.Event+ChangedSuffix].Attributes
		assert.Subset(t, changed, []string{AttrChangeType, AttrChangeFields}, o.Event)
		var keys []string
		for _, f := range o.Attrs {
			keys = append(keys, f.Key)
			assert.Contains(t, declared, f.Key, "%s: %s", o.Event, f.Key)
			assert.Contains(t, changed, f.Key, "%s.changed: %s", o.Event, f.Key)
		}
		assertSameSet(t, declared, keys, o.Event+" declares exactly what it emits")
		for _, f := range o.Resource {
			assert.Contains(t, md.ResourceAttributes, f.Key, "%s resource: %s", o.Event, f.Key)
		}
	}
}
