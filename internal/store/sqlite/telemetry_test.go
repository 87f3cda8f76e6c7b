package sqlite

import (
	"path/filepath"
	"testing"

	"github.com/mcp-obs/mcp-obs/internal/store"
	"github.com/mcp-obs/mcp-obs/internal/store/storetest"
)

// openTelemetryFresh opens a telemetry store on a new file, closed when tb ends.
func openTelemetryFresh(tb testing.TB) store.Telemetry {
	s, err := OpenTelemetry(tb.Context(), filepath.Join(tb.TempDir(), TelemetryFile))
	if err != nil {
		tb.Fatalf("OpenTelemetry: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestSQLiteTelemetry_PassesConformanceSuite(t *testing.T) {
	storetest.RunTelemetry(t, openTelemetryFresh)
}
