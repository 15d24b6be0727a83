package cpi

import (
	"context"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sapcpi-otel/sapcpireceiver/internal/fakecpi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/httpapi"
)

func TestDoubleAcceptsNumbersStringsAndNoFigure(t *testing.T) {
	tests := []struct {
		in    string
		want  float64
		valid bool
		err   bool
	}{
		{in: `0.25`, want: 0.25, valid: true},
		{in: `"0.25"`, want: 0.25, valid: true}, // Olingo writes Edm.Double as a string
		{in: `"1.5E+01"`, want: 15, valid: true},
		{in: `42`, want: 42, valid: true},
		{in: `"-3"`, want: -3, valid: true},
		{in: `null`},
		{in: `""`},
		{in: `"NaN"`, want: math.NaN(), valid: true},
		{in: `"INF"`, want: math.Inf(1), valid: true},
		{in: `"12 MB"`, err: true},
		{in: `true`, err: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var d Double
			err := json.Unmarshal([]byte(tt.in), &d)
			if tt.err {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.valid, d.Valid)
			if math.IsNaN(tt.want) {
				assert.True(t, math.IsNaN(d.Value))
				_, ok := d.Finite()
				assert.False(t, ok, "NaN is no figure")
				return
			}
			assert.Equal(t, tt.want, d.Value)
		})
	}
	raw, err := json.Marshal([]Double{{Value: 0.25, Valid: true}, {}})
	require.NoError(t, err)
	assert.Equal(t, `[0.25,null]`, string(raw), "written back as a number, or null when there is no figure")
	var absent struct{ D Double }
	require.NoError(t, json.Unmarshal([]byte(`{}`), &absent))
	assert.False(t, absent.D.Valid, "an absent member is no figure, not 0")
}

func TestEpochMillisReadsInt64StringsNumbersAndDates(t *testing.T) {
	at := time.UnixMilli(1780315200000).UTC()
	tests := []struct {
		in   string
		want time.Time
		err  bool
	}{
		{in: `"1780315200000"`, want: at}, // Edm.Int64 as a string, the wire form
		{in: `1780315200000`, want: at},
		{in: `"/Date(1780315200000)/"`, want: at},
		{in: `"0"`},
		{in: `null`},
		{in: `""`},
		{in: `"2026-06-01"`, err: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var got EpochMillis
			err := json.Unmarshal([]byte(tt.in), &got)
			if tt.err {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.True(t, tt.want.Equal(got.Time), "got %s", got.Time)
		})
	}
	raw, err := json.Marshal(EpochMillis{at})
	require.NoError(t, err)
	assert.Equal(t, `"1780315200000"`, string(raw))
}

func TestOperationalEntitiesDecodeTheWireQuirks(t *testing.T) {
	t.Run("DataStore counts are Int64 strings; the spec's Messageid spelling decodes", func(t *testing.T) {
		var ds DataStore
		require.NoError(t, json.Unmarshal([]byte(`{"DataStoreName":"S","IntegrationFlow":"","Type":"","NumberOfMessages":"12","NumberOfOverdueMessages":2}`), &ds))
		assert.EqualValues(t, 12, ds.NumberOfMessages)
		assert.EqualValues(t, 2, ds.NumberOfOverdueMessages)
		var e DataStoreEntry
		require.NoError(t, json.Unmarshal([]byte(`{"Id":"1","Messageid":"AGm","Status":"Overdue","DueAt":"/Date(1780315200000)/","CreatedAt":"2026-06-01T10:00:00.08"}`), &e))
		assert.Equal(t, "AGm", e.MessageId)
		assert.Equal(t, time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC), e.DueAt.Time)
		assert.Equal(t, time.Date(2026, 6, 1, 10, 0, 0, 80e6, time.UTC), e.CreatedAt.Time, "hand-written ISO dates are UTC")
	})
	t.Run("NumberRange figures stay strings", func(t *testing.T) {
		var n NumberRange
		require.NoError(t, json.Unmarshal([]byte(`{"Name":"R","MinValue":"00001","MaxValue":"99999999999999999999","CurrentValue":"","Rotate":"true"}`), &n))
		assert.Equal(t, "99999999999999999999", n.MaxValue, "beyond int64, kept as sent")
		assert.Equal(t, "00001", n.MinValue)
		assert.Equal(t, "true", n.Rotate)
	})
	t.Run("Archiving Int32 figures as numbers or strings", func(t *testing.T) {
		var a ArchivingKeyPerformanceIndicators
		require.NoError(t, json.Unmarshal([]byte(`{"RunStart":"/Date(1780315200000)/","MplsArchivingFailed":3,"MplsArchived":"40","RunStatus":"FAILED","DateOfOldestMplToBeArchivedAfterRun":null}`), &a))
		assert.EqualValues(t, 3, a.MplsArchivingFailed)
		assert.EqualValues(t, 40, a.MplsArchived)
		assert.True(t, a.DateOfOldestMplToBeArchivedAfterRun.IsZero())
	})
	t.Run("ExternalLoggingEvent: Int64 key, boolean as a string, doubles as strings", func(t *testing.T) {
		var e ExternalLoggingEvent
		require.NoError(t, json.Unmarshal([]byte(`{"Timestamp":"1780315200000","HasError":"true","StatusChangedAtMillis":1780315200000,"AverageLagSec":"95.5","AverageLoadSec":0.2,"AverageAvailability":null}`), &e))
		assert.EqualValues(t, 1780315200000, e.Timestamp.UnixMilli())
		assert.True(t, bool(e.HasError))
		assert.Equal(t, Double{95.5, true}, e.AverageLagSec)
		assert.Equal(t, Double{0.2, true}, e.AverageLoadSec)
		assert.False(t, e.AverageAvailability.Valid)
	})
	t.Run("Queue figures are Int64 strings", func(t *testing.T) {
		var q Queue
		require.NoError(t, json.Unmarshal([]byte(`{"Name":"Q","NumbOfMsgs":"7","Size":"6961","State":"2","FillGrade":"92","Active":"1"}`), &q))
		assert.Equal(t, Queue{Name: "Q", NumbOfMsgs: 7, Size: 6961, State: 2, FillGrade: 92, Active: 1}, q)
	})
	t.Run("AccessPolicy: Int64 ids, expanded or deferred references", func(t *testing.T) {
		var p AccessPolicy
		require.NoError(t, json.Unmarshal([]byte(`{"Id":"1","RoleName":"AP","ArtifactReferences":{"results":[{"Id":"11","Name":"HR","ConditionValue":"Employee_*"}]}}`), &p))
		assert.EqualValues(t, 1, p.Id)
		require.Len(t, p.ArtifactReferences, 1)
		assert.EqualValues(t, 11, p.ArtifactReferences[0].Id)
		require.NoError(t, json.Unmarshal([]byte(`{"Id":"2","ArtifactReferences":{"__deferred":{"uri":"x"}}}`), &p))
		assert.Empty(t, p.ArtifactReferences)
	})
	t.Run("MessageStoreEntry: the spec's Timestamp spelling decodes", func(t *testing.T) {
		var m MessageStoreEntry
		require.NoError(t, json.Unmarshal([]byte(`{"Id":"sap-it-res:msg:1","Timestamp":"/Date(1780315200000)/","HasAttachments":"false"}`), &m))
		assert.EqualValues(t, 1780315200000, m.TimeStamp.UnixMilli())
		assert.False(t, bool(m.HasAttachments))
	})
}

func TestResourceUsageValuesDecodeAsStringsOrNumbers(t *testing.T) {
	var v []ResourceUsageValue
	require.NoError(t, json.Unmarshal([]byte(`[{"context":"MPL","value":"1024"},{"context":7,"value":2.5},{"context":null,"value":null}]`), &v))
	assert.Equal(t, []ResourceUsageValue{{"MPL", Double{1024, true}}, {"7", Double{2.5, true}}, {"", Double{}}}, v)
	require.Error(t, json.Unmarshal([]byte(`[{"context":{"a":1},"value":1}]`), &v), "a context that is not a scalar is refused")
}

func TestDataStoreKeysGoOutWithLiteralQuotes(t *testing.T) {
	assert.Equal(t, "(DataStoreName='a%2Fb',IntegrationFlow='',Type='AS2')",
		keyPredicate(keyPart{"DataStoreName", "a/b"}, keyPart{"IntegrationFlow", ""}, keyPart{"Type", "AS2"}))
}

// opsClient is a client of a simulated tenant started at a fixed instant, whose epochs the test moves.
func opsClient(t *testing.T, opts fakecpi.Options) (*Client, *fakecpi.Server, *time.Time) {
	t.Helper()
	now := time.Date(2026, 6, 1, 12, 30, 0, 0, time.UTC)
	opts.Start, opts.TimeScale = now, time.Minute
	opts.Now = func() time.Time { return now }
	c, sim, _ := simClient(t, opts, "")
	return c, sim, &now
}

func TestDataStoresGainOverdueEntriesAndClear(t *testing.T) {
	c, _, now := opsClient(t, fakecpi.Options{})
	ctx := t.Context()
	stores, err := c.DataStores(ctx, false)
	require.NoError(t, err)
	require.Len(t, stores, 3)
	for _, s := range stores {
		assert.Zero(t, s.NumberOfOverdueMessages, s.DataStoreName)
	}
	overdue, err := c.DataStores(ctx, true)
	require.NoError(t, err)
	assert.Empty(t, overdue, "overdueonly leaves out stores without overdue entries")

	*now = now.Add(2 * time.Minute) // epoch 2: PO_Retry_Store has overdue entries
	overdue, err = c.DataStores(ctx, true)
	require.NoError(t, err)
	require.Len(t, overdue, 1)
	store := overdue[0]
	assert.Equal(t, "PO_Retry_Store", store.DataStoreName)
	assert.EqualValues(t, 2, store.NumberOfOverdueMessages)

	entries, err := c.DataStoreEntries(ctx, store)
	require.NoError(t, err, "the key predicate names all three keys")
	assert.Len(t, entries, int(store.NumberOfMessages))
	var late int
	for _, e := range entries {
		if e.Status == "Overdue" {
			late++
			assert.True(t, e.DueAt.Before(*now), "an overdue entry was due in the past")
		}
		assert.NotEmpty(t, e.MessageId)
		assert.False(t, e.RetainUntil.IsZero())
	}
	assert.Equal(t, 2, late)

	typed := stores[2]
	require.Equal(t, "AS2", typed.Type)
	entries, err = c.DataStoreEntries(ctx, typed)
	require.NoError(t, err)
	assert.Len(t, entries, int(typed.NumberOfMessages))

	*now = now.Add(3 * time.Minute) // epoch 5: cleared
	overdue, err = c.DataStores(ctx, true)
	require.NoError(t, err)
	assert.Empty(t, overdue)
}

func TestDataStoresRefuseSystemQueryOptionsLikeTheTenant(t *testing.T) {
	c, _, _ := opsClient(t, fakecpi.Options{})
	_, err := listAll[DataStore](t.Context(), c, GroupDataStores, "fetching DataStores", "DataStores", Query{}.Add("$top", "10"))
	require.Error(t, err, "the simulated tenant enforces SAP's rule, so the client's query-less call is proven necessary")
	assert.Equal(t, httpapi.KindClient, httpapi.KindOf(err))
}

func TestNumberRangesKeepTheirStringFigures(t *testing.T) {
	c, _, _ := opsClient(t, fakecpi.Options{})
	ranges, err := c.NumberRanges(t.Context())
	require.NoError(t, err)
	byName := map[string]NumberRange{}
	for _, r := range ranges {
		byName[r.Name] = r
	}
	po := byName["PO_Number_Range"]
	assert.Equal(t, "false", po.Rotate)
	assert.Equal(t, "4500000000", po.MinValue)
	assert.Equal(t, "4590999999", po.CurrentValue, "91 % of the way at the start")
	assert.Equal(t, "00000000000001", byName["IDoc_Control_Number"].MinValue, "leading zeros survive")
	assert.Empty(t, byName["Unused_Range"].CurrentValue)
	assert.False(t, po.DeployedOn.IsZero())
}

func TestResourceUsageReadsEveryTypeForOneHour(t *testing.T) {
	c, _, now := opsClient(t, fakecpi.Options{})
	hour := now.Truncate(time.Hour).Add(-time.Hour)
	for _, typ := range ResourceUsageTypes {
		t.Run(typ, func(t *testing.T) {
			u, err := c.ResourceUsage(t.Context(), typ, hour, hour.Add(time.Hour))
			require.NoError(t, err)
			assert.Equal(t, typ, u.Type)
			assert.Equal(t, hour, u.From)
			require.NotEmpty(t, u.Usage)
			for _, v := range u.Usage {
				assert.True(t, v.Value.Valid, "%s %s", typ, v.Context)
				assert.NotEmpty(t, v.Context)
			}
		})
	}
	u, err := c.ResourceUsage(t.Context(), ResourceDBTableSize, hour, hour.Add(time.Hour))
	require.NoError(t, err)
	var used float64
	for _, v := range u.Usage {
		used += v.Value.Value
	}
	require.True(t, u.TotalAvailable.Valid)
	assert.InDelta(t, 0.8, used/u.TotalAvailable.Value, 0.025, "DB tables near 80 %% of total-available")

	ds, err := c.ResourceUsage(t.Context(), ResourceDataStoreUsage, hour, hour.Add(time.Hour))
	require.NoError(t, err)
	assert.EqualValues(t, 35_000_000_000, ds.TotalAvailable.Value, "sent as a string")

	st, err := c.ResourceUsage(t.Context(), ResourceMessageStatusCount, hour, hour.Add(time.Hour))
	require.NoError(t, err)
	assert.False(t, st.TotalAvailable.Valid, "counts have no total")

	later, err := c.ResourceUsage(t.Context(), ResourceDBTableSize, hour.Add(3*time.Hour), hour.Add(4*time.Hour))
	require.NoError(t, err)
	assert.Empty(t, later.Usage, "an hour that has not begun has no figures")
}

func TestResourceUsageWithoutItsArrayIsMalformed(t *testing.T) {
	c := staticClient(t, 200, "application/json", `{"total-available":5}`)
	_, err := c.ResourceUsage(t.Context(), ResourceDBTableSize, time.Unix(0, 0), time.Unix(3600, 0))
	require.Error(t, err)
	assert.Equal(t, httpapi.KindBadResponse, httpapi.KindOf(err))
	assert.Contains(t, err.Error(), `no "resource-usage" member`)
}

func TestArchivingRunsIncludeOneFailedRun(t *testing.T) {
	c, _, now := opsClient(t, fakecpi.Options{})
	runs, err := c.ArchivingRuns(t.Context())
	require.NoError(t, err)
	require.Len(t, runs, 3)
	assert.Equal(t, "FAILED", runs[1].RunStatus)
	assert.Equal(t, "DATA_UPLOAD", runs[1].RunFailedPhase)
	assert.Positive(t, int64(runs[1].MplsArchivingFailed))
	assert.False(t, runs[2].DateOfOldestMplToBeArchivedAfterRun.IsZero())

	*now = now.Add(6 * time.Minute)
	runs, err = c.ArchivingRuns(t.Context())
	require.NoError(t, err)
	assert.Len(t, runs, 6, "one more run every other epoch, once finished")
}

func TestExternalLoggingIsActiveFailsAndRecovers(t *testing.T) {
	c, _, now := opsClient(t, fakecpi.Options{CloudFoundry: true})
	st, err := c.ExternalLoggingActivation(t.Context())
	require.NoError(t, err)
	assert.True(t, bool(st.Active))

	*now = now.Add(90 * time.Second) // epoch 1: a send error
	events, err := c.ExternalLoggingEvents(t.Context())
	require.NoError(t, err)
	require.Len(t, events, 2)
	assert.False(t, bool(events[0].HasError))
	assert.True(t, bool(events[1].HasError))
	assert.NotEmpty(t, events[1].StatusText)
	assert.Equal(t, Double{95.5, true}, events[1].AverageLagSec)

	*now = now.Add(2 * time.Minute) // epoch 3: resumed
	events, err = c.ExternalLoggingEvents(t.Context())
	require.NoError(t, err)
	require.Len(t, events, 3)
	assert.False(t, bool(events[2].HasError))
	assert.True(t, events[2].Timestamp.After(events[1].Timestamp.Time))
}

func TestQueuesFill(t *testing.T) {
	c, _, now := opsClient(t, fakecpi.Options{})
	before, err := c.Queues(t.Context())
	require.NoError(t, err)
	*now = now.Add(5 * time.Minute)
	after, err := c.Queues(t.Context())
	require.NoError(t, err)
	require.Equal(t, "JMS_ORDERS_IN", after[0].Name)
	assert.Greater(t, after[0].NumbOfMsgs, before[0].NumbOfMsgs)
	assert.Greater(t, after[0].Size, before[0].Size)
	assert.EqualValues(t, 0, after[3].Active, "JMS_SHIPMENTS is stopped")
	assert.EqualValues(t, 2, after[4].State, "JMS_DEADLETTER is critical in epoch 5")
}

func TestCertificateUserMappingsExpireOnNeo(t *testing.T) {
	c, _, now := opsClient(t, fakecpi.Options{})
	maps, err := c.CertificateUserMappings(t.Context())
	require.NoError(t, err)
	require.Len(t, maps, 2)
	assert.Equal(t, "B2B_PARTNER_ACME", maps[0].User)
	assert.Equal(t, now.Add(10*24*time.Hour), maps[0].ValidUntil.Time)
}

func TestAccessPoliciesComeWithTheirArtifacts(t *testing.T) {
	c, _, _ := opsClient(t, fakecpi.Options{})
	pols, err := c.AccessPolicies(t.Context())
	require.NoError(t, err)
	require.Len(t, pols, 2)
	assert.Equal(t, "AP_HR_Sensitive", pols[0].RoleName)
	assert.Len(t, pols[0].ArtifactReferences, 2, "expanded")
}

// Every source's 403 names the role it needs, and its 404 says the API is not on this tenant.
func TestEachOperationalSourceNamesItsRoleAndItsAbsence(t *testing.T) {
	hour := time.Date(2026, 6, 1, 11, 0, 0, 0, time.UTC)
	calls := []struct {
		name, path, role string
		cloudFoundry     bool
		call             func(context.Context, *Client) error
	}{
		{"data stores", "DataStores", "DataStoresAndQueuesRead", false, func(ctx context.Context, c *Client) error { _, err := c.DataStores(ctx, true); return err }},
		{"data store entries", "DataStores/Entries", "DataStoresAndQueuesRead", false, func(ctx context.Context, c *Client) error {
			_, err := c.DataStoreEntries(ctx, DataStore{DataStoreName: "PO_Retry_Store", IntegrationFlow: "Replicate_PurchaseOrder_to_Supplier"})
			return err
		}},
		{"number ranges", "NumberRanges", "MonitoringDataRead", false, func(ctx context.Context, c *Client) error { _, err := c.NumberRanges(ctx); return err }},
		{"resource usage", "resourceusage", "MonitoringDataRead", false, func(ctx context.Context, c *Client) error {
			_, err := c.ResourceUsage(ctx, ResourceDBTableSize, hour, hour.Add(time.Hour))
			return err
		}},
		{"archiving", "ArchivingKeyPerformanceIndicators", "MonitoringDataRead", false, func(ctx context.Context, c *Client) error { _, err := c.ArchivingRuns(ctx); return err }},
		{"external logging status", "ExternalLoggingActivationStatus", "ExternalLoggingActivationRead", true, func(ctx context.Context, c *Client) error {
			_, err := c.ExternalLoggingActivation(ctx)
			return err
		}},
		{"external logging events", "ExternalLoggingEvents", "ExternalLoggingActivationRead", true, func(ctx context.Context, c *Client) error {
			_, err := c.ExternalLoggingEvents(ctx)
			return err
		}},
		{"queues", "Queues", "DataStoresAndQueuesRead", false, func(ctx context.Context, c *Client) error { _, err := c.Queues(ctx); return err }},
		{"certificate user mappings", "CertificateUserMappings", "IntegrationOperationServer.read", false, func(ctx context.Context, c *Client) error {
			_, err := c.CertificateUserMappings(ctx)
			return err
		}},
		{"access policies", "AccessPolicies", "AccessPoliciesRead", false, func(ctx context.Context, c *Client) error { _, err := c.AccessPolicies(ctx); return err }},
		{"message store entries", "MessageProcessingLogs/MessageStoreEntries", "MessagePayloadsRead", false, func(ctx context.Context, c *Client) error {
			_, err := c.MessageStoreEntries(ctx, "AGany")
			return err
		}},
		{"message store value", "MessageStoreEntries", "MessagePayloadsRead", false, func(ctx context.Context, c *Client) error {
			_, err := c.MessageStoreEntryValue(ctx, "sap-it-res:msg:AGany:1", 100)
			return err
		}},
		{"attachments", "MessageProcessingLogs/Attachments", "MessagePayloadsRead", false, func(ctx context.Context, c *Client) error {
			_, err := c.MessageAttachments(ctx, "AGany")
			return err
		}},
		{"attachment value", "MessageProcessingLogAttachments", "MessagePayloadsRead", false, func(ctx context.Context, c *Client) error {
			_, err := c.MessageAttachmentValue(ctx, "sap-it-res:att:AGany:1", 100)
			return err
		}},
	}
	for _, tt := range calls {
		t.Run(tt.name, func(t *testing.T) {
			c, _, _ := opsClient(t, fakecpi.Options{CloudFoundry: tt.cloudFoundry, ForbiddenPaths: []string{tt.path}})
			err := tt.call(t.Context(), c)
			require.Error(t, err)
			assert.Equal(t, httpapi.KindForbidden, httpapi.KindOf(err), err.Error())
			assert.Contains(t, err.Error(), "403 Forbidden")
			assert.Contains(t, err.Error(), "lacks role "+tt.role)

			c, _, _ = opsClient(t, fakecpi.Options{CloudFoundry: tt.cloudFoundry, AbsentPaths: []string{tt.path}})
			err = tt.call(t.Context(), c)
			require.Error(t, err)
			assert.Equal(t, httpapi.KindNotFound, httpapi.KindOf(err), err.Error())
			assert.Contains(t, err.Error(), "not available on this tenant")
		})
	}
}

func TestNeoAndCloudFoundryOfferDifferentOperationalAPIs(t *testing.T) {
	cf, _, _ := opsClient(t, fakecpi.Options{CloudFoundry: true})
	_, err := cf.CertificateUserMappings(t.Context())
	require.Error(t, err)
	assert.Equal(t, httpapi.KindNotFound, httpapi.KindOf(err))
	assert.Contains(t, err.Error(), "CertificateUserMappings exist on Neo tenants only")

	neo, _, _ := opsClient(t, fakecpi.Options{})
	_, err = neo.ExternalLoggingEvents(t.Context())
	require.Error(t, err)
	assert.Equal(t, httpapi.KindNotFound, httpapi.KindOf(err))
	assert.Contains(t, err.Error(), "External Logging exists on Cloud Foundry tenants only")
}

func TestResourceUsageAbsenceSaysItIsUndocumented(t *testing.T) {
	c, _, now := opsClient(t, fakecpi.Options{AbsentPaths: []string{"resourceusage"}})
	_, err := c.ResourceUsage(t.Context(), ResourceDBTableSize, now.Add(-time.Hour), *now)
	require.Error(t, err)
	assert.True(t, strings.Contains(err.Error(), "Inspect UI"), err.Error())
}

func TestResourceUsageAnswerShapes(t *testing.T) {
	tests := map[string]struct {
		body  string
		total Double
		usage []ResourceUsageValue
	}{
		"numbers":        {`{"resource-usage":[{"context":"MPL","value":1024}],"total-available":4096}`, Double{4096, true}, []ResourceUsageValue{{"MPL", Double{1024, true}}}},
		"strings":        {`{"resource-usage":[{"context":"MPL","value":"1024"}],"total-available":"4096"}`, Double{4096, true}, []ResourceUsageValue{{"MPL", Double{1024, true}}}},
		"no total":       {`{"resource-usage":[{"context":"FAILED","value":3}]}`, Double{}, []ResourceUsageValue{{"FAILED", Double{3, true}}}},
		"null total":     {`{"resource-usage":[],"total-available":null}`, Double{}, []ResourceUsageValue{}},
		"unknown member": {`{"resource-usage":[{"context":"c","value":1,"unit":"MB"}],"total-available":2,"recommendation":{"x":1}}`, Double{2, true}, []ResourceUsageValue{{"c", Double{1, true}}}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			c := staticClient(t, 200, "application/json", tt.body)
			u, err := c.ResourceUsage(t.Context(), ResourceDBTableSize, time.Unix(0, 0), time.Unix(3600, 0))
			require.NoError(t, err)
			assert.Equal(t, tt.total, u.TotalAvailable)
			assert.Equal(t, tt.usage, u.Usage)
		})
	}
}
