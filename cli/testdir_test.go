package cli

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// testDir is t.TempDir for the tests that also run as a Windows build under
// Wine (.ci/wine-suite): os.RemoveAll, which t.TempDir's cleanup calls,
// deletes through FILE_DISPOSITION_INFORMATION_EX, which Wine 8 does not
// implement, so the cleanup would fail a test that passed. This one removes
// the files one by one, deepest first, with os.Remove.
func testDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "vpconnect-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		var paths []string
		_ = filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
			if err == nil {
				paths = append(paths, p)
			}
			return nil
		})
		slices.Reverse(paths)
		for _, p := range paths {
			if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
				t.Errorf("remove the test's files: %v", err)
				return
			}
		}
	})
	return dir
}
