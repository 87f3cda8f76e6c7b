package mcpobs

import (
	"log/slog"
	"os"
)

// chooseLogger returns the logger the SDK writes to: the caller's, else a
// debug-level text logger on stderr when debug is set, else slog.Default().
func chooseLogger(l *slog.Logger, debug bool) *slog.Logger {
	switch {
	case l != nil:
		return l
	case debug:
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	default:
		return slog.Default()
	}
}
