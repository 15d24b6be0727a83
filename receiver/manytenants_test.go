package sapcpireceiver

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/sapcpi-otel/sapcpireceiver/internal/fakecpi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/metadata"
)

// One collector watches many tenants, each its own receiver. Tenants fail on their own: a deleted
// service key (401 on every request, the token endpoint's too), a deleted tenant (404), a throttling
// storm (429 with Retry-After on every request, honoured by the client). The healthy tenants deliver
// their backlog as fast beside them as they do alone: each receiver has its own HTTP client, token,
// rate limiter, retry sleep and poller, so a failing tenant holds nothing another one waits for.
func TestOneFailingTenantDoesNotSlowTheOthers(t *testing.T) {
	const backlog = 2000
	healthy := []string{"t01", "t02", "t03"}
	failing := map[string]fakecpi.Outage{"t04": fakecpi.OutageUnauthorized, "t05": fakecpi.OutageNotFound, "t06": fakecpi.OutageThrottled}
	ts, base := hostedTenants(t, fakecpi.TenantNames(6), fakecpi.Options{Backlog: backlog, BacklogSpan: time.Hour})
	for name, o := range failing {
		ts.SetOutage(name, o)
	}
	for _, name := range ts.Names() {
		ts.Tenant(name).Truth() // the backlogs are generated before the clock runs
	}

	// catchUp starts receivers for the named tenants and returns how long the healthy ones took to
	// deliver their whole backlog, with the receivers still running.
	catchUp := func(names []string) (time.Duration, []receiver.Logs) {
		sinks := map[string]*consumertest.LogsSink{}
		var rs []receiver.Logs
		start := time.Now()
		for _, name := range names {
			cfg := hostedConfig(t, ts, base, name)
			cfg.Messages.ErrorDetails.Enabled = false
			cfg.Messages.InitialLookback = 2 * time.Hour
			// The client's own retry policy, so that the storm's Retry-After is waited out as in production.
			cfg.Retry = createDefaultConfig().(*Config).Retry
			sinks[name] = &consumertest.LogsSink{}
			set := receivertest.NewNopSettings(metadata.Type)
			set.ID = component.MustNewIDWithName("sapcpi", name)
			r, err := NewFactory().CreateLogs(t.Context(), set, cfg, sinks[name])
			require.NoError(t, err)
			require.NoError(t, r.Start(t.Context(), componenttest.NewNopHost()))
			rs = append(rs, r)
		}
		require.Eventually(t, func() bool {
			for _, name := range healthy {
				if sinks[name].LogRecordCount() < backlog {
					return false
				}
			}
			return true
		}, 30*time.Second, 5*time.Millisecond, "the healthy tenants deliver their backlog")
		took := time.Since(start)
		for _, name := range healthy {
			assert.Equal(t, backlog, sinks[name].LogRecordCount(), name)
		}
		return took, rs
	}
	stop := func(rs []receiver.Logs) {
		for _, r := range rs {
			require.NoError(t, r.Shutdown(context.Background()))
		}
	}

	alone, rs := catchUp(healthy)
	stop(rs)
	before := map[string]int64{}
	for name := range failing {
		before[name] = ts.Requests(name)
	}
	beside, rs := catchUp(fakecpi.TenantNames(6))
	// Let the failing ones go on failing for a while: the healthy ones are not held up meanwhile either.
	time.Sleep(1500 * time.Millisecond)
	stop(rs)
	t.Logf("the healthy tenants caught up in %s alone and in %s beside a 401, a 404 and a 429 storm", alone.Round(time.Millisecond), beside.Round(time.Millisecond))
	for name, o := range failing {
		assert.Positive(t, ts.Requests(name)-before[name], "tenant %s (%s) was asked, and failed, meanwhile", name, o)
	}
	assert.Greater(t, ts.Requests("t06")-before["t06"], int64(1), "the throttled tenant was retried")
	assert.Less(t, beside, 2*alone+time.Second, "no slower beside the failing tenants")
}
