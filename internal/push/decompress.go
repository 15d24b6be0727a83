package push

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Decompress reads a request body of at most max bytes once decompressed (max ≤ 0: no limit).
//
// It gunzips when the body starts with the gzip magic, whatever Content-Encoding says: SAP's
// CompressData defaults to true, and the collector's HTTP server may already have gunzipped the body
// and dropped the header, or a proxy may have dropped only the header. Encodings other than gzip and
// identity are refused. A body beyond max is an ErrTooLarge, so a small gzip bomb cannot fill memory; so
// is a body that the HTTP server's own limit (http.MaxBytesReader) cut off.
func Decompress(r io.Reader, contentEncoding string, max int64) ([]byte, error) {
	switch enc := strings.ToLower(strings.TrimSpace(contentEncoding)); enc {
	case "", "identity", "gzip", "x-gzip":
	default:
		if len(enc) > 20 {
			enc = enc[:20] + "…"
		}
		return nil, &pushError{msg: fmt.Sprintf("Content-Encoding %q is not supported (send gzip or none)", enc), class: ErrUnsupported}
	}
	// in tells a failing connection from a corrupt gzip stream when reading stops with an error.
	in := &readErr{r: r}
	br := bufio.NewReader(in)
	var src io.Reader = br
	gzipped := false
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			if in.err != nil {
				return nil, fmt.Errorf("reading the push body: %w", in.err)
			}
			return nil, malformed("the body is not valid gzip")
		}
		defer zr.Close()
		src, gzipped = zr, true
	}
	if max > 0 {
		src = io.LimitReader(src, max+1)
	}
	b, err := io.ReadAll(src)
	if err != nil {
		if tooLarge := (*http.MaxBytesError)(nil); errors.As(err, &tooLarge) {
			// The HTTP server's own cap (max_request_body_size) stopped the read: the body is too
			// large, which a retry cannot mend.
			return nil, &pushError{msg: fmt.Sprintf("the body is larger than %d bytes", tooLarge.Limit), class: ErrTooLarge}
		}
		if in.err == nil && gzipped {
			return nil, malformed("the gzip body is corrupt or cut off")
		}
		return nil, fmt.Errorf("reading the push body: %w", err)
	}
	if max > 0 && int64(len(b)) > max {
		return nil, &pushError{msg: fmt.Sprintf("the body is larger than %d bytes once decompressed", max), class: ErrTooLarge}
	}
	return b, nil
}

type readErr struct {
	r   io.Reader
	err error
}

func (e *readErr) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		e.err = err
	}
	return n, err
}
