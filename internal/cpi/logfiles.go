package cpi

import (
	"bufio"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/sapcpi-otel/sapcpireceiver/internal/httpapi"
)

// LogFile is a system log file of a worker node (com.sap.hci.api.LogFile; documented for Neo).
type LogFile struct {
	Name         string
	Application  string
	LastModified Time
	ContentType  string
	LogFileType  string // http or trace
	NodeScope    string
	Size         Int64
}

// LogFiles lists the worker nodes' log files of the given types.
func (c *Client) LogFiles(ctx context.Context, types []string) ([]LogFile, error) {
	q := Query{}.Add("$filter", "NodeScope eq 'worker'")
	files, err := listAll[LogFile](ctx, c, GroupMonitoring, "fetching LogFiles", "LogFiles", q)
	if err != nil {
		return nil, err
	}
	// Filtered here as well: the type filter is applied whatever the tenant does with $filter.
	out := files[:0]
	for _, f := range files {
		if (f.NodeScope == "" || f.NodeScope == "worker") && slices.Contains(types, f.LogFileType) {
			out = append(out, f)
		}
	}
	return out, nil
}

// LogFileContent streams a log file's $value (gunzipped) to read. The download is never held in memory
// whole. read may be called again from the start if the download fails and is retried, so it must
// decide from its own committed state what to skip.
func (c *Client) LogFileContent(ctx context.Context, f LogFile, maxSize int64, read func(io.Reader) error) error {
	key := keyPredicate(keyPart{Name: "Name", Value: f.Name}, keyPart{Name: "Application", Value: f.Application})
	u := c.url("LogFiles"+key+"/$value", nil)
	req := httpapi.Request{URL: u, Accept: "application/gzip, application/octet-stream, text/plain", MaxBody: maxSize}
	return c.api.Do(ctx, GroupMonitoring, "downloading log file "+f.Name, req, func(body io.Reader, resp *http.Response) error {
		br := bufio.NewReader(body)
		head, _ := br.Peek(2)
		if len(head) == 2 && head[0] == 0x1f && head[1] == 0x8b {
			zr, err := gzip.NewReader(br)
			if err != nil {
				return fmt.Errorf("%w: log file %s is not valid gzip: %w", ErrTruncated, f.Name, err)
			}
			defer zr.Close()
			return read(zr)
		}
		if ct := resp.Header.Get("Content-Type"); strings.Contains(ct, "gzip") {
			return fmt.Errorf("%w: log file %s announced gzip but is not", httpapi.ErrMalformed, f.Name)
		}
		return read(br)
	})
}
