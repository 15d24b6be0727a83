// Package grafana holds the Grafana dashboards (JSON, one per file). This test checks what Grafana's
// import needs and what the live Prometheus test (e2e/prometheus_test.go, `make prometheus-test`) relies
// on, without a Grafana: the data source variables, the tenant and iFlow variables, and a grid whose
// panels do not overlap.
package grafana

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type ref struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type panel struct {
	ID         int    `json:"id"`
	Type       string `json:"type"`
	Title      string `json:"title"`
	Datasource *ref   `json:"datasource"`
	GridPos    struct {
		X, Y, W, H int
	} `json:"gridPos"`
	Targets []struct {
		Datasource *ref   `json:"datasource"`
		RefID      string `json:"refId"`
		Expr       string `json:"expr"`
	} `json:"targets"`
	Panels []panel `json:"panels"`
}

type board struct {
	UID           string  `json:"uid"`
	Title         string  `json:"title"`
	SchemaVersion int     `json:"schemaVersion"`
	Panels        []panel `json:"panels"`
	Templating    struct {
		List []struct {
			Name       string `json:"name"`
			Type       string `json:"type"`
			Query      any    `json:"query"`
			Datasource *ref   `json:"datasource"`
			IncludeAll bool   `json:"includeAll"`
			AllValue   string `json:"allValue"`
		} `json:"list"`
	} `json:"templating"`
}

// dataSources are the only data source references a panel may use: the dashboard's variables.
var dataSources = map[string]string{"${DS_PROMETHEUS}": "prometheus", "${DS_LOKI}": "loki"}

func TestDashboardsImportWithTheirVariablesAndAGridWithoutOverlaps(t *testing.T) {
	files, err := filepath.Glob("*.json")
	require.NoError(t, err)
	require.Len(t, files, 5, "messages, integration content, security material, tenant resources, receiver health")
	uids := map[string]bool{}
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			raw, err := os.ReadFile(f)
			require.NoError(t, err)
			var b board
			require.NoError(t, json.Unmarshal(raw, &b))
			assert.NotEmpty(t, b.Title)
			assert.NotEmpty(t, b.UID)
			assert.False(t, uids[b.UID], "uid %s is unique", b.UID)
			uids[b.UID] = true
			assert.GreaterOrEqual(t, b.SchemaVersion, 36, "a schema current Grafana (10, 11, 12) imports without migration surprises")

			vars := map[string]string{}
			for _, v := range b.Templating.List {
				switch v.Type {
				case "datasource":
					vars[v.Name] = "datasource:" + v.Query.(string)
				case "query":
					vars[v.Name] = "query"
					require.NotNil(t, v.Datasource, v.Name)
					assert.Equal(t, "${DS_PROMETHEUS}", v.Datasource.UID, v.Name)
					assert.True(t, v.IncludeAll, "%s has All", v.Name)
					assert.Equal(t, ".+", v.AllValue, "%s: All is .+, which a Loki stream selector accepts", v.Name)
				}
			}
			assert.Equal(t, map[string]string{
				"DS_PROMETHEUS": "datasource:prometheus", "DS_LOKI": "datasource:loki", "tenant": "query", "iflow": "query",
			}, vars)

			ids := map[int]bool{}
			var cells [][24]bool
			var walk func([]panel)
			walk = func(ps []panel) {
				for _, p := range ps {
					assert.False(t, ids[p.ID], "panel id %d is unique", p.ID)
					ids[p.ID] = true
					g := p.GridPos
					assert.True(t, g.W > 0 && g.H > 0 && g.X >= 0 && g.X+g.W <= 24, "panel %q fits the 24-column grid: %+v", p.Title, g)
					for len(cells) < g.Y+g.H {
						cells = append(cells, [24]bool{})
					}
					for y := g.Y; y < g.Y+g.H; y++ {
						for x := g.X; x < min(g.X+g.W, 24); x++ {
							assert.False(t, cells[y][x], "panel %q overlaps another at (%d,%d)", p.Title, x, y)
							cells[y][x] = true
						}
					}
					if p.Type == "row" || p.Type == "text" {
						walk(p.Panels)
						continue
					}
					assert.NotEmpty(t, p.Title, "panel %d has a title", p.ID)
					require.NotNil(t, p.Datasource, p.Title)
					assert.Equal(t, dataSources[p.Datasource.UID], p.Datasource.Type, "panel %q uses a data source variable", p.Title)
					require.NotEmpty(t, p.Targets, p.Title)
					refs := map[string]bool{}
					for _, tg := range p.Targets {
						assert.NotEmpty(t, tg.Expr, p.Title)
						assert.False(t, refs[tg.RefID], "panel %q refId %s is unique", p.Title, tg.RefID)
						refs[tg.RefID] = true
						if tg.Datasource != nil {
							assert.Equal(t, p.Datasource.UID, tg.Datasource.UID, "panel %q queries one data source", p.Title)
						}
					}
				}
			}
			walk(b.Panels)
		})
	}
}
