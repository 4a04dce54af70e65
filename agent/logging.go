package agent

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
)

// LogFile is the agent's log in <dataDir>/logs.
const LogFile = "vpconnect.log"

// RotatingFile is an io.Writer over a log file that rotates by size:
// vpconnect.log, vpconnect.log.1 … vpconnect.log.<Keep>. Files are 0600 in
// a 0700 directory (docs/behaviour.md §6): logs say who synced what with whom.
type RotatingFile struct {
	mu      sync.Mutex
	path    string
	maxSize int64
	keep    int
	f       *os.File
	size    int64
}

// OpenRotatingFile opens (appending) the log at path; maxSize <= 0 means
// 5 MiB, keep <= 0 means 3 old files.
func OpenRotatingFile(path string, maxSize int64, keep int) (*RotatingFile, error) {
	if maxSize <= 0 {
		maxSize = 5 << 20
	}
	if keep <= 0 {
		keep = 3
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create the log directory: %w", err)
	}
	r := &RotatingFile{path: path, maxSize: maxSize, keep: keep}
	if err := r.open(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *RotatingFile) open() error {
	f, err := os.OpenFile(r.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("open the log: %w", err)
	}
	_ = f.Chmod(0o600) // an older file may have been created looser
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("open the log: %w", err)
	}
	r.f, r.size = f, st.Size()
	return nil
}

// Write writes p, rotating first when p would take the file past its size.
func (r *RotatingFile) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return 0, os.ErrClosed
	}
	if r.size > 0 && r.size+int64(len(p)) > r.maxSize {
		if err := r.rotate(); err != nil {
			return 0, err
		}
	}
	n, err := r.f.Write(p)
	r.size += int64(n)
	return n, err
}

func (r *RotatingFile) rotate() error {
	r.f.Close()
	r.f = nil
	os.Remove(fmt.Sprintf("%s.%d", r.path, r.keep))
	for i := r.keep - 1; i >= 1; i-- {
		os.Rename(fmt.Sprintf("%s.%d", r.path, i), fmt.Sprintf("%s.%d", r.path, i+1))
	}
	if err := os.Rename(r.path, r.path+".1"); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("rotate the log: %w", err)
	}
	return r.open()
}

// Close closes the file.
func (r *RotatingFile) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	return err
}

// OpenLog returns the agent's logger: JSON lines, redacted, into
// <dataDir>/logs/vpconnect.log with rotation. Close the returned closer at
// exit.
func OpenLog(dataDir string, level slog.Level) (*slog.Logger, io.Closer, error) {
	f, err := OpenRotatingFile(filepath.Join(dataDir, "logs", LogFile), 0, 0)
	if err != nil {
		return nil, nil, err
	}
	h := NewRedactingHandler(slog.NewJSONHandler(f, &slog.HandlerOptions{Level: level}))
	return slog.New(h), f, nil
}

// redactedKeys are attribute keys whose values never reach a log: secrets,
// and message content (docs/behaviour.md §6: logs redact tokens, passwords and message
// bodies). Compared case-insensitively.
var redactedKeys = map[string]bool{
	"password": true, "secret": true, "token": true, "access_token": true, "refresh_token": true,
	"id_token": true, "authorization": true, "client_secret": true, "clientsecret": true,
	"cookie": true, "body": true, "notes": true, "content": true, "code": true,
}

// secretPatterns find secrets inside free text (error messages quote URLs and
// responses).
var secretPatterns = []*regexp.Regexp{
	regexp.MustCompile(`(?i)(bearer\s+)[A-Za-z0-9\-._~+/]+=*`),
	regexp.MustCompile(`(?i)((?:refresh_token|access_token|id_token|client_secret|password|code|code_verifier)["']?\s*[=:]\s*["']?)[^&\s"',}]+`),
}

const redacted = "[REDACTED]"

// Redact removes bearer tokens and the values of token, secret and password
// parameters from s.
func Redact(s string) string {
	for _, re := range secretPatterns {
		s = re.ReplaceAllString(s, "${1}"+redacted)
	}
	return s
}

// RedactingHandler is a slog.Handler that drops secrets and message content
// before they reach the next handler: attributes named like a secret or a
// body are replaced, string values are scrubbed of bearer tokens and
// token parameters, and so is the message. It is the one filter every log
// line passes, so a careless log call elsewhere cannot leak a token.
type RedactingHandler struct{ next slog.Handler }

// NewRedactingHandler wraps next.
func NewRedactingHandler(next slog.Handler) *RedactingHandler { return &RedactingHandler{next} }

// Enabled implements slog.Handler.
func (h *RedactingHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

// Handle implements slog.Handler.
func (h *RedactingHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, Redact(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(redactAttr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

// WithAttrs implements slog.Handler.
func (h *RedactingHandler) WithAttrs(as []slog.Attr) slog.Handler {
	clean := make([]slog.Attr, len(as))
	for i, a := range as {
		clean[i] = redactAttr(a)
	}
	return &RedactingHandler{h.next.WithAttrs(clean)}
}

// WithGroup implements slog.Handler.
func (h *RedactingHandler) WithGroup(name string) slog.Handler {
	return &RedactingHandler{h.next.WithGroup(name)}
}

func redactAttr(a slog.Attr) slog.Attr {
	if redactedKeys[strings.ToLower(a.Key)] {
		return slog.String(a.Key, redacted)
	}
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, Redact(v.String()))
	case slog.KindGroup:
		as := v.Group()
		clean := make([]any, len(as))
		for i, g := range as {
			clean[i] = redactAttr(g)
		}
		return slog.Group(a.Key, clean...)
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return slog.String(a.Key, Redact(x.Error()))
		case fmt.Stringer:
			return slog.String(a.Key, Redact(x.String()))
		default:
			// Structs may hold anything: log their printed form, scrubbed.
			return slog.String(a.Key, Redact(fmt.Sprintf("%+v", x)))
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}
