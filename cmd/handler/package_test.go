package main

import (
	"archive/zip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestPackageZipHoldsTheAppAndAnExecutableHandlerAndNothingElse builds the deployment
// zip with `make package` into a temporary directory and reads it back the way the
// Functions host will: host.json and one folder per function at the root, and a
// handler it can exec.
func TestPackageZipHoldsTheAppAndAnExecutableHandlerAndNothingElse(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the Linux handler")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	cmd := exec.Command("make", "-s", "-C", root, "package",
		"STAGE_DIR="+filepath.Join(tmp, "stage"), "DIST_DIR="+filepath.Join(tmp, "dist"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make package: %v\n%s", err, out)
	}
	zr, err := zip.OpenReader(filepath.Join(tmp, "dist", "spool-functions.zip"))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()

	want := []string{"host.json", "handler"}
	functions, err := filepath.Glob(filepath.Join(root, "functions", "*", "function.json"))
	if err != nil || len(functions) == 0 {
		t.Fatalf("no functions found: %v", err)
	}
	for _, f := range functions {
		want = append(want, filepath.Base(filepath.Dir(f))+"/function.json")
	}
	var got []string
	for _, f := range zr.File {
		if f.FileInfo().IsDir() {
			continue
		}
		got = append(got, f.Name)
		switch {
		case f.Name == "handler":
			if f.Mode()&0o111 == 0 {
				t.Errorf("handler has mode %v: the host could not run it", f.Mode())
			}
			if f.UncompressedSize64 < 1<<20 {
				t.Errorf("handler is only %d bytes", f.UncompressedSize64)
			}
		case strings.HasSuffix(f.Name, ".go"), f.Name == "local.settings.json", strings.HasPrefix(f.Name, "."):
			t.Errorf("%s must not be deployed", f.Name)
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("zip holds\n  %v\nwant\n  %v", got, want)
	}
	handler, err := os.ReadFile(filepath.Join(tmp, "stage", "handler"))
	if err != nil {
		t.Fatal(err)
	}
	// A Linux executable whatever machine built it: the host runs Linux.
	if len(handler) < 20 || string(handler[1:4]) != "ELF" || handler[18] != 62 {
		t.Error("handler is not a Linux amd64 ELF executable")
	}
}
