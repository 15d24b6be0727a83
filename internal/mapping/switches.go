package mapping

import (
	"reflect"
	"strings"

	"go.opentelemetry.io/collector/filter"
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/sapcpi-otel/sapcpireceiver/internal/metadata"
)

// Switches are the user's choices of what the receiver emits, as documentation.md describes them:
// `events: <name>: enabled` and `resource_attributes: <name>: {enabled, events_include, events_exclude}`.
// They come from the generated configuration types, so every event and resource attribute declared in
// metadata.yaml has its switch.
type Switches struct {
	Events             metadata.EventsConfig
	ResourceAttributes metadata.ResourceAttributesConfig
}

// DefaultSwitches is everything on, as metadata.yaml declares it.
func DefaultSwitches() Switches {
	return Switches{Events: metadata.DefaultEventsConfig(), ResourceAttributes: metadata.DefaultResourceAttributesConfig()}
}

type resourceSwitch struct {
	enabled          bool
	include, exclude filter.Filter
}

// tables turns the generated structs into lookups by OpenTelemetry name (their mapstructure keys).
func (s Switches) tables() (map[string]bool, map[string]resourceSwitch) {
	events := map[string]bool{}
	ev := reflect.ValueOf(s.Events)
	for i := range ev.NumField() {
		cfg := ev.Field(i).Interface().(metadata.EventConfig)
		events[tagName(ev.Type().Field(i))] = cfg.Enabled
	}
	res := map[string]resourceSwitch{}
	rv := reflect.ValueOf(s.ResourceAttributes)
	for i := range rv.NumField() {
		cfg := rv.Field(i).Interface().(metadata.ResourceAttributeConfig)
		sw := resourceSwitch{enabled: cfg.Enabled}
		if cfg.EventsInclude != nil {
			sw.include = filter.CreateFilter(cfg.EventsInclude)
		}
		if cfg.EventsExclude != nil {
			sw.exclude = filter.CreateFilter(cfg.EventsExclude)
		}
		res[tagName(rv.Type().Field(i))] = sw
	}
	return events, res
}

func tagName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("mapstructure"), ",")
	return name
}

// Enabled reports whether records of the event are emitted.
func (m *Mapper) Enabled(event string) bool {
	on, known := m.events[event]
	return on || !known
}

// putResource sets a resource attribute unless it is switched off.
func (m *Mapper) putResource(attrs pcommon.Map, key, value string) {
	if value == "" {
		return
	}
	if sw, known := m.resource[key]; known && !sw.enabled {
		return
	}
	attrs.PutStr(key, value)
}

// resourceAllowed applies the events_include and events_exclude filters to a resource, the way the
// generated logs builder does: an include filter must match, an exclude filter must not.
func (m *Mapper) resourceAllowed(res pcommon.Resource) bool {
	if !m.filtered {
		return true
	}
	allowed := true
	res.Attributes().Range(func(k string, v pcommon.Value) bool {
		sw, ok := m.resource[k]
		if !ok {
			return true
		}
		s := v.AsString()
		if (sw.include != nil && !sw.include.Matches(s)) || (sw.exclude != nil && sw.exclude.Matches(s)) {
			allowed = false
		}
		return allowed
	})
	return allowed
}

// putResourceField sets an object's identifying attribute on its resource unless it is switched off.
func (m *Mapper) putResourceField(attrs pcommon.Map, f Field) {
	if sw, known := m.resource[f.Key]; known && !sw.enabled {
		return
	}
	putValue(attrs, f)
}
