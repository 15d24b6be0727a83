package httpapi

import (
	"fmt"
	"net/url"
	"strings"
)

// ParseBaseURL parses an API base URL from configuration or a service key. It must be an absolute http(s)
// URL with a host: a relative one would silently resolve against nothing and fail on the first request
// with a far less useful error. name labels the setting in the error; example shows a valid value.
func ParseBaseURL(name, raw, example string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("%s %q must be an absolute http(s) URL such as %s", name, raw, example)
	}
	return u, nil
}
