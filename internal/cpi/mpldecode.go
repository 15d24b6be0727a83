package cpi

import "io"

// DecodeMessagePage decodes one MessageProcessingLogs collection document, as the client does.
func DecodeMessagePage(r io.Reader) (Page[MessageProcessingLog], error) {
	return DecodePage[MessageProcessingLog](r)
}
