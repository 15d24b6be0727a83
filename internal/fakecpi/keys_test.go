package fakecpi

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestKeyedPathIsParsedFromTheWireSpelling(t *testing.T) {
	tests := []struct {
		name, escaped string
		literalOnly   bool
		want          keyedPath
		ok            bool
	}{
		{name: "literal quotes", escaped: "MessageProcessingLogs('AG12_x-Y')/ErrorInformation/$value",
			want: keyedPath{set: "MessageProcessingLogs", key: "AG12_x-Y", rest: "/ErrorInformation/$value"}, ok: true},
		{name: "encoded quotes accepted by default", escaped: "MessageProcessingLogs(%27AG12%27)/Runs",
			want: keyedPath{set: "MessageProcessingLogs", key: "AG12", rest: "/Runs"}, ok: true},
		{name: "encoded quotes refused on a literal-only tenant", escaped: "MessageProcessingLogs(%27AG12%27)/Runs", literalOnly: true},
		{name: "literal quotes on a literal-only tenant", escaped: "IntegrationPackages('Acme')/IntegrationDesigntimeArtifacts", literalOnly: true,
			want: keyedPath{set: "IntegrationPackages", key: "Acme", rest: "/IntegrationDesigntimeArtifacts"}, ok: true},
		{name: "doubled quote inside", escaped: "IntegrationRuntimeArtifacts('O''Brien')/ErrorInformation/$value",
			want: keyedPath{set: "IntegrationRuntimeArtifacts", key: "O'Brien", rest: "/ErrorInformation/$value"}, ok: true},
		{name: "encoded slash, space and parenthesis inside", escaped: "IntegrationPackages('a%2Fb%20c)')/IntegrationDesigntimeArtifacts",
			want: keyedPath{set: "IntegrationPackages", key: "a/b c)", rest: "/IntegrationDesigntimeArtifacts"}, ok: true},
		{name: "named keys", escaped: "LogFiles(Name='http_access.log',Application='iflmap')/$value", literalOnly: true,
			want: keyedPath{set: "LogFiles", named: map[string]string{"Name": "http_access.log", "Application": "iflmap"}, rest: "/$value"}, ok: true},
		{name: "numeric key", escaped: "MessageProcessingLogRunSteps(RunId='R1',ChildCount=3)/TraceMessages",
			want: keyedPath{set: "MessageProcessingLogRunSteps", named: map[string]string{"RunId": "R1", "ChildCount": "3"}, rest: "/TraceMessages"}, ok: true},
		{name: "no rest", escaped: "JmsBrokers('Broker1')", want: keyedPath{set: "JmsBrokers", key: "Broker1"}, ok: true},
		{name: "unterminated literal", escaped: "MessageProcessingLogs('AG12)/Runs"},
		{name: "missing parenthesis", escaped: "MessageProcessingLogs('AG12'/Runs"},
		{name: "mixed forms", escaped: "LogFiles(Name='a','b')/$value"},
		{name: "no predicate", escaped: "MessageProcessingLogs"},
		{name: "bad escape", escaped: "MessageProcessingLogs('A%G1')/Runs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := parseKeyedPath(tt.escaped, tt.literalOnly)
			assert.Equal(t, tt.ok, ok)
			if tt.ok {
				assert.Equal(t, tt.want, got)
			}
		})
	}
}
