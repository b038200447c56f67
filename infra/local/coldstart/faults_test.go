package main

import (
	"os"
	"syscall"
	"testing"
)

func TestParseMinorFaults(t *testing.T) {
	// A command name with spaces and parentheses of its own; minflt is 4242.
	stat := []byte("1234 (a) b (c)) S 1 1234 1234 0 -1 4194560 4242 0 7 0 12 3 0 0 20 0 1 0 99 1000 10 18446744073709551615\n")
	n, err := parseMinorFaults(stat)
	if err != nil || n != 4242 {
		t.Fatalf("parseMinorFaults = %d, %v; want 4242", n, err)
	}
	for _, bad := range []string{"", "1234 no name S 1", "1234 (x) S 1 2 3"} {
		if _, err := parseMinorFaults([]byte(bad)); err == nil {
			t.Errorf("parseMinorFaults(%q): no error", bad)
		}
	}
}

// The count read from /proc agrees with the kernel's own for this process (getrusage), which only grows.
func TestMinorFaultsOfThisProcess(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc here")
	}
	var before, after syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &before); err != nil {
		t.Fatal(err)
	}
	n, err := minorFaults(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &after); err != nil {
		t.Fatal(err)
	}
	if n < before.Minflt || n > after.Minflt || n == 0 {
		t.Fatalf("minor faults from /proc = %d, getrusage %d before and %d after", n, before.Minflt, after.Minflt)
	}
}
