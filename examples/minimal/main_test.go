package main

import (
	"bytes"
	"errors"
	"log"
	"net"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// With its port taken, the example says which port and how to change it,
// and never claims to be serving.
func TestRun_BusyPortIsNamedWithTheFixAndNoReadyLine(t *testing.T) {
	taken, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	busy := taken.Addr().(*net.TCPAddr).Port

	var logs bytes.Buffer
	orig := log.Writer()
	log.SetOutput(&logs)
	defer log.SetOutput(orig)
	err = run(t.Context(), busy)

	want := "port " + strconv.Itoa(busy) + " is already in use: stop the other process, or change the port constant"
	if err == nil || !strings.HasPrefix(err.Error(), want) || !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("run = %v\nwant %q… wrapping EADDRINUSE", err, want)
	}
	if strings.Contains(logs.String(), "MCP server on") {
		t.Fatalf("a ready line although nothing is served:\n%s", logs.String())
	}
}
