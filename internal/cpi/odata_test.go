package cpi

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTimeDecodesEveryFormTheTenantUses(t *testing.T) {
	ms := time.UnixMilli(1717236001877).UTC()
	tests := []struct {
		in      string
		want    time.Time
		wantErr bool
	}{
		{in: `"/Date(1717236001877)/"`, want: ms},
		{in: `"/Date(1717236001877+0000)/"`, want: ms},
		{in: `"/Date(1717236001877+0200)/"`, want: ms}, // the epoch is UTC whatever the offset says
		{in: `"/Date(1717236001877-0530)/"`, want: ms},
		{in: `"/Date(-1000)/"`, want: time.UnixMilli(-1000).UTC()},
		{in: `"2024-06-01T10:00:01.877"`, want: time.Date(2024, 6, 1, 10, 0, 1, 877e6, time.UTC)},
		{in: `"2024-06-01T10:00:01"`, want: time.Date(2024, 6, 1, 10, 0, 1, 0, time.UTC)},
		{in: `"2024-06-01T12:00:01+02:00"`, want: time.Date(2024, 6, 1, 10, 0, 1, 0, time.UTC)},
		{in: `"1521463636583"`, want: time.UnixMilli(1521463636583).UTC()},
		{in: `null`, want: time.Time{}},
		{in: `""`, want: time.Time{}},
		{in: `"/Date(abc)/"`, wantErr: true},
		{in: `"/Date(1717236001877+02)/"`, wantErr: true},
		{in: `"yesterday"`, wantErr: true},
		{in: `1717236001877`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var got Time
			err := json.Unmarshal([]byte(tt.in), &got)
			if tt.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.True(t, tt.want.Equal(got.Time), "got %s want %s", got.Time, tt.want)
			if !got.IsZero() {
				assert.Equal(t, time.UTC, got.Location())
			}
		})
	}
}

func TestTimeRoundTripsThroughTheWireForm(t *testing.T) {
	in := Time{time.UnixMilli(1717236001877).UTC()}
	raw, err := json.Marshal(in)
	require.NoError(t, err)
	assert.JSONEq(t, `"/Date(1717236001877)/"`, string(raw))
	var out Time
	require.NoError(t, json.Unmarshal(raw, &out))
	assert.True(t, in.Equal(out.Time))
}

func TestFilterTimeIsUTCWithoutZoneSuffix(t *testing.T) {
	berlin := time.FixedZone("CEST", 2*3600)
	at := time.Date(2024, 6, 1, 12, 0, 1, 877e6, berlin)
	// A local time sent unconverted would be read as UTC by CPI and shift the window by two hours.
	assert.Equal(t, "datetime'2024-06-01T10:00:01.877'", FilterTime(at))
}

func TestInt64AndBoolAcceptStringsAndNumbers(t *testing.T) {
	var v struct {
		A, B, C Int64
		D, E, F Bool
	}
	require.NoError(t, json.Unmarshal([]byte(`{"A":"794616135","B":42,"C":null,"D":true,"E":"false","F":"true"}`), &v))
	assert.EqualValues(t, 794616135, v.A)
	assert.EqualValues(t, 42, v.B)
	assert.EqualValues(t, 0, v.C)
	assert.True(t, bool(v.D))
	assert.False(t, bool(v.E))
	assert.True(t, bool(v.F))
	require.Error(t, json.Unmarshal([]byte(`{"A":"12x"}`), &v))
	require.Error(t, json.Unmarshal([]byte(`{"D":"maybe"}`), &v))
}

type entity struct {
	ID   string
	Size Int64
}

func TestDecodeCollectionReadsResultsNextAndCount(t *testing.T) {
	body := `{"d":{"__count":"3","results":[{"__metadata":{"type":"x"},"ID":"a","Size":"1"},{"ID":"b","Size":"2","Nav":{"__deferred":{"uri":"u"}}}],"__next":"Set?$skiptoken=2"}}`
	var page Page[entity]
	require.NoError(t, decodeCollection(strings.NewReader(body), &page))
	assert.Equal(t, []entity{{"a", 1}, {"b", 2}}, page.Results)
	assert.Equal(t, "Set?$skiptoken=2", page.Next)
	assert.True(t, page.HasCount)
	assert.EqualValues(t, 3, page.Count)
}

func TestDecodeCollectionAcceptsTheV1ArrayForm(t *testing.T) {
	var page Page[entity]
	require.NoError(t, decodeCollection(strings.NewReader(`{"d":[{"ID":"a"}]}`), &page))
	assert.Equal(t, []entity{{ID: "a"}}, page.Results)
	assert.Empty(t, page.Next)
}

func TestDecodeCollectionRejectsWhatIsNotOData(t *testing.T) {
	tests := map[string]struct {
		body string
		want error
	}{
		"no d":            {`{"value":[]}`, ErrNotOData},
		"d is a string":   {`{"d":"x"}`, ErrNotOData},
		"top-level array": {`[{"ID":"a"}]`, ErrNotOData},
		"truncated":       {`{"d":{"results":[{"ID":"a"},{"ID":`, ErrTruncated},
		"empty":           {``, ErrTruncated},
		"garbage":         {`{"d":{"results":[{"ID":"a"}}}`, ErrNotOData},
		"wrong type":      {`{"d":{"results":[{"ID":5}]}}`, ErrNotOData},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			var page Page[entity]
			err := decodeCollection(strings.NewReader(tt.body), &page)
			require.Error(t, err)
			assert.True(t, errors.Is(err, tt.want), "got %v", err)
		})
	}
}

func TestCustomHeaderPropertiesAcceptExpandedAndDeferredForms(t *testing.T) {
	var m MessageProcessingLog
	require.NoError(t, json.Unmarshal([]byte(`{"CustomHeaderProperties":{"results":[{"Id":"1","Name":"po","Value":"45"},{"Name":"po","Value":"46"}]}}`), &m))
	assert.Equal(t, CustomHeaderProperties{{"po", "45"}, {"po", "46"}}, m.CustomHeaderProperties)
	m = MessageProcessingLog{}
	require.NoError(t, json.Unmarshal([]byte(`{"CustomHeaderProperties":{"__deferred":{"uri":"x"}}}`), &m))
	assert.Empty(t, m.CustomHeaderProperties)
}

func TestMessageQueryRendersTheDocumentedFilterSyntax(t *testing.T) {
	q := MessageQuery{
		From:   time.Date(2024, 6, 1, 10, 0, 0, 0, time.UTC),
		Until:  time.Date(2024, 6, 1, 11, 0, 0, 0, time.UTC),
		IFlows: []string{"A", "B'C"}, ExcludeStatuses: []string{"DISCARDED"},
		Top: 1000, Skip: 5, CustomHeaders: true,
	}
	assert.Equal(t, "LogEnd ge datetime'2024-06-01T10:00:00.000' and LogEnd lt datetime'2024-06-01T11:00:00.000'"+
		" and (IntegrationArtifact/Id eq 'A' or IntegrationArtifact/Id eq 'B''C') and Status ne 'DISCARDED'", q.Filter())
	enc := q.Query().Encode()
	assert.Contains(t, enc, "$orderby=LogEnd")
	assert.Contains(t, enc, "$top=1000")
	assert.Contains(t, enc, "$skip=5")
	assert.Contains(t, enc, "$expand=CustomHeaderProperties")
	assert.Contains(t, enc, "%20ge%20")
	assert.NotContains(t, enc, "+")
}
