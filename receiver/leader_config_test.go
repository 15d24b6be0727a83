package sapcpireceiver

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/confmap"
)

func TestConfigLeaderElectionForManyTenants(t *testing.T) {
	def := loadConfig(t, "leader_election").LeaderElection
	assert.Equal(t, 5*time.Second, def.CheckpointFlushInterval, "commits coalesce for up to 5s by default")

	le := loadConfig(t, "leader_election_many_tenants").LeaderElection
	require.NoError(t, le.Validate())
	assert.Zero(t, le.CheckpointFlushInterval, "0s writes every commit")
	assert.Equal(t, 30*time.Second, le.LeaseDuration)
	assert.Equal(t, 20*time.Second, le.RenewDeadline)
	assert.Equal(t, 4*time.Second, le.RetryPeriod)

	err := confmap.Validate(loadConfig(t, "leader_election_bad_flush"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "leader_election: checkpoint_flush_interval: must not be negative, got -1s")
}
