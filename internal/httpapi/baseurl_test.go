package httpapi

import (
	"strings"
	"testing"
)

func TestParseBaseURL(t *testing.T) {
	u, err := ParseBaseURL("endpoint", "  https://host.example.com/api/  ", "https://x")
	if err != nil || u.Host != "host.example.com" || u.Path != "/api/" {
		t.Fatalf("valid URL: got %v, %v", u, err)
	}
	for _, raw := range []string{"", "host.example.com", "/api", "ftp://host.example.com", "https://", "http://[::1"} {
		_, err := ParseBaseURL("cloud_alm endpoint", raw, "https://<tenant>/api")
		if err == nil {
			t.Errorf("%q: accepted", raw)
			continue
		}
		if want := "cloud_alm endpoint"; !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "such as https://<tenant>/api") {
			t.Errorf("%q: error %q does not name the setting and an example", raw, err)
		}
	}
}
