package vantagepoint

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// What the client learns of the server's page cap (Client.pageCap) is kept
// between runs in Options.PageCapFile: a client that does not know it asks
// once more after every short page that is not empty, to tell the end of a
// listing from a server that caps pages there. Known from an earlier run,
// the cap spares a fleet's 9 a.m. starts those requests
// (docs/behaviour.md §7, BenchmarkFleet).

// maxPageCap bounds a saved cap: a larger number is not a page size this
// client asks for, so the file is damaged.
const maxPageCap = 100000

// loadPageCap reads the cap an earlier run saved; a missing, unreadable
// or damaged file leaves it unknown.
func (c *Client) loadPageCap() {
	if c.opts.PageCapFile == "" {
		return
	}
	b, err := os.ReadFile(c.opts.PageCapFile)
	if err != nil {
		return
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || n <= 0 || n > maxPageCap {
		return
	}
	c.pageCap.Store(n)
}

// setPageCap records what the server was seen to answer per page, and
// keeps it in the file when it changed. A file that cannot be written
// costs requests, not correctness: it is logged, not returned.
func (c *Client) setPageCap(n int64) {
	if c.pageCap.Swap(n) == n || c.opts.PageCapFile == "" {
		return
	}
	c.capMu.Lock()
	defer c.capMu.Unlock()
	if err := writePrivate(c.opts.PageCapFile, []byte(strconv.FormatInt(c.pageCap.Load(), 10)+"\n")); err != nil {
		c.opts.Logger.Warn("keep the Vantagepoint server's page cap", "err", err)
	}
}

// writePrivate writes a small file whole (a temporary file of its own,
// renamed: the agent's two clients keep the same files), readable by the
// user only.
func writePrivate(file string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(file), filepath.Base(file)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(file), err)
	}
	defer os.Remove(tmp.Name()) // after the rename, nothing to remove
	_, err = tmp.Write(b)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), file)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(file), err)
	}
	return nil
}
