//go:build e2e

package e2e

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// `make run` is the first command a user types. It must start next to another collector (which holds
// 8888 for its own metrics) and show, within a minute, records of every signal: pulled message records,
// pushed ones, message traces and metrics.
func TestMakeRunShowsEverySignalNextToAnotherCollector(t *testing.T) {
	require.NotEmpty(t, *otelcol, "run with -otelcol <binary> (make e2e does)")
	if ln, err := net.Listen("tcp", "127.0.0.1:8888"); err == nil {
		t.Cleanup(func() { _ = ln.Close() })
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "make-run.out")
	f, err := os.Create(out)
	require.NoError(t, err)
	defer f.Close()
	cmd := exec.Command("make", "-C", "..", "--no-print-directory", "run", "RUNDIR="+dir, "PUSH_ADDR="+freeAddr(t), "OTELCOL="+*otelcol)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		// Ctrl-C, as a user stops it: make's trap stops the simulated tenant.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
	})

	want := map[string]string{
		"a pulled message record":    "sap.cpi.message.id=",
		"a pushed message record":    "sap.cpi.push.format=otlp",
		"a message trace":            "ResourceTraces #0",
		"the message-derived metric": "sapcpi.messages{",
		"an inventory record":        "sap.cpi.artifact.id=",
	}
	var text string
	ok := assert.Eventually(t, func() bool {
		raw, _ := os.ReadFile(out)
		text = string(raw)
		for _, marker := range want {
			if !strings.Contains(text, marker) {
				return false
			}
		}
		return true
	}, 90*time.Second, time.Second)
	if !ok {
		for what, marker := range want {
			assert.Contains(t, text, marker, "make run shows %s", what)
		}
		t.Logf("make run printed:\n%s", tail(text, 4000))
	}
	assert.NotContains(t, text, "address already in use")
}
