package sapcpireceiver

import (
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/sapcpi-otel/sapcpireceiver/internal/cpi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/mapping"
	"github.com/sapcpi-otel/sapcpireceiver/internal/metadata"
)

// operationsCache holds the latest delivered state of each operational source, for the gauges the
// metrics scrape records. A source writes it only once its poll is complete: after the next consumer
// accepted its events and its checkpoint was committed, so a gauge never shows what was not delivered.
// A source that has not yet been read records nothing (an absent series, not a false zero).
type operationsCache struct {
	mu sync.Mutex

	dataStores    []cpi.DataStore
	numberRanges  []cpi.NumberRange
	archivingRuns []cpi.ArchivingKeyPerformanceIndicators
	extLogActive  *cpi.ExternalLoggingActivationStatus
	extLogEvents  []cpi.ExternalLoggingEvent
	queues        []cpi.Queue

	// certMappings is nil until read: an empty list still records "0 expiring".
	certMappings  []cpi.CertificateUserMapping
	hasCertMaps   bool
	expiryWarning time.Duration

	// accessPolicies is nil until read: none at all is a value (0) worth recording.
	accessPolicies    []cpi.AccessPolicy
	hasAccessPolicies bool
}

func (c *operationsCache) setDataStores(s []cpi.DataStore) {
	c.mu.Lock()
	c.dataStores = s
	c.mu.Unlock()
}

func (c *operationsCache) setNumberRanges(r []cpi.NumberRange) {
	c.mu.Lock()
	c.numberRanges = r
	c.mu.Unlock()
}

func (c *operationsCache) setArchivingRuns(r []cpi.ArchivingKeyPerformanceIndicators) {
	c.mu.Lock()
	c.archivingRuns = r
	c.mu.Unlock()
}

func (c *operationsCache) setExternalLogging(active cpi.ExternalLoggingActivationStatus, events []cpi.ExternalLoggingEvent) {
	c.mu.Lock()
	c.extLogActive, c.extLogEvents = &active, events
	c.mu.Unlock()
}

func (c *operationsCache) setQueues(q []cpi.Queue) {
	c.mu.Lock()
	c.queues = q
	c.mu.Unlock()
}

func (c *operationsCache) setCertificateUserMappings(m []cpi.CertificateUserMapping, warn time.Duration) {
	c.mu.Lock()
	c.certMappings, c.hasCertMaps, c.expiryWarning = m, true, warn
	c.mu.Unlock()
}

func (c *operationsCache) setAccessPolicies(p []cpi.AccessPolicy) {
	c.mu.Lock()
	c.accessPolicies, c.hasAccessPolicies = p, true
	c.mu.Unlock()
}

// record writes the gauges of every source that has been read.
func (c *operationsCache) record(mb *metadata.MetricsBuilder, ts pcommon.Timestamp, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	mapping.RecordDataStores(mb, ts, c.dataStores)
	// The ranges without a usage figure were reported by the source when it read them.
	_ = mapping.RecordNumberRanges(mb, ts, c.numberRanges)
	mapping.RecordArchiving(mb, ts, now, c.archivingRuns)
	if c.extLogActive != nil {
		mapping.RecordExternalLoggingActive(mb, ts, *c.extLogActive)
		mapping.RecordExternalLoggingEvents(mb, ts, c.extLogEvents)
	}
	mapping.RecordQueues(mb, ts, c.queues)
	if c.hasCertMaps {
		mapping.RecordCertificateUserMappings(mb, ts, now, c.certMappings, c.expiryWarning)
	}
	if c.hasAccessPolicies {
		mapping.RecordAccessPolicies(mb, ts, c.accessPolicies)
	}
}
