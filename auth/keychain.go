package auth

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/zalando/go-keyring"
)

// MaxEntrySize is the most a keychain entry may hold: Windows' credential
// blob limit, the smallest of the three systems (macOS allows about 3 KB,
// the Secret Service more). Store splits longer records.
const MaxEntrySize = 2560

// ErrNotFound is a keychain entry that does not exist.
var ErrNotFound = errors.New("no such keychain entry")

// Keychain is a place for small secrets, named by account, inside one
// service name (the configuration's keychainService). Implementations
// answer ErrNotFound for a missing entry and an error wrapping
// ErrKeychainUnavailable when the keychain cannot be used.
type Keychain interface {
	// Get returns the secret of an entry.
	Get(account string) (string, error)
	// Set creates or replaces an entry.
	Set(account, secret string) error
	// Delete removes an entry; a missing entry is ErrNotFound.
	Delete(account string) error
}

// SystemKeychain is the operating system's keychain through go-keyring:
// the Secret Service (GNOME Keyring, KWallet, KeePassXC) on Linux, the login
// keychain on macOS, the Credential Manager on Windows.
type SystemKeychain struct {
	// Service is the service name of every entry.
	Service string
	// Timeout bounds one call: a locked Secret Service may show an unlock
	// prompt that nobody answers (a headless session), and the agent must
	// then say so instead of hanging. 30 s when zero.
	Timeout time.Duration
}

// NewSystemKeychain returns the system keychain under a service name.
func NewSystemKeychain(service string) *SystemKeychain {
	return &SystemKeychain{Service: service}
}

// Get implements Keychain.
func (k *SystemKeychain) Get(account string) (string, error) {
	var v string
	err := k.call("read", account, func() error {
		var err error
		v, err = keyring.Get(k.Service, account)
		return err
	})
	return v, err
}

// Set implements Keychain.
func (k *SystemKeychain) Set(account, secret string) error {
	return k.call("write", account, func() error { return keyring.Set(k.Service, account, secret) })
}

// Delete implements Keychain.
func (k *SystemKeychain) Delete(account string) error {
	return k.call("delete", account, func() error { return keyring.Delete(k.Service, account) })
}

// call runs one go-keyring call with a timeout and maps its errors.
func (k *SystemKeychain) call(op, account string, fn func() error) error {
	timeout := k.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	done := make(chan error, 1)
	go func() {
		defer func() {
			// A backend's panic (an unexpected D-Bus answer) must not take the
			// agent down: the keychain is then merely unavailable.
			if r := recover(); r != nil {
				done <- fmt.Errorf("keychain backend panicked: %v", r)
			}
		}()
		done <- fn()
	}()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case err := <-done:
		return k.mapError(op, account, err)
	case <-t.C:
		// The goroutine stays blocked on the backend; there is no way to
		// cancel a D-Bus prompt from here, and it ends with the process.
		return fmt.Errorf("%w: %s %q in service %q: no answer after %s (%s)", ErrKeychainUnavailable, op, account, k.Service, timeout, unlockHint())
	}
}

func (k *SystemKeychain) mapError(op, account string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, keyring.ErrNotFound):
		return ErrNotFound
	case errors.Is(err, keyring.ErrSetDataTooBig):
		return fmt.Errorf("keychain %s %q in service %q: the entry is too big for this keychain", op, account, k.Service)
	}
	return fmt.Errorf("%w: %s %q in service %q: %v (%s)", ErrKeychainUnavailable, op, account, k.Service, err, unlockHint())
}

// unlockHint says what usually fixes an unusable keychain on this system.
func unlockHint() string {
	switch runtime.GOOS {
	case "windows":
		return "check that the Windows Credential Manager is available to this user"
	case "darwin":
		return "unlock the login keychain and allow vpconnect to use it"
	}
	if os.Getenv("DBUS_SESSION_BUS_ADDRESS") == "" {
		return "no D-Bus session bus: run vpconnect inside your desktop session, with a Secret Service such as GNOME Keyring or KeePassXC"
	}
	return "start and unlock a Secret Service such as GNOME Keyring or KeePassXC in your desktop session"
}

// MemoryKeychain is a Keychain in memory, for the demo (which must never
// touch the user's keychain) and tests. Like Windows it refuses entries over
// MaxEntrySize, so that tests notice a record that was not split. Several
// TokenSources may share one, as two processes share the real keychain.
type MemoryKeychain struct {
	mu      sync.Mutex
	entries map[string]string
	// fail, when set, is returned by every call (tests).
	fail error
}

// NewMemoryKeychain returns an empty in-memory keychain.
func NewMemoryKeychain() *MemoryKeychain {
	return &MemoryKeychain{entries: map[string]string{}}
}

// Get implements Keychain.
func (m *MemoryKeychain) Get(account string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return "", m.fail
	}
	v, ok := m.entries[account]
	if !ok {
		return "", ErrNotFound
	}
	return v, nil
}

// Set implements Keychain.
func (m *MemoryKeychain) Set(account, secret string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	if len(secret) > MaxEntrySize {
		return fmt.Errorf("memory keychain: entry %q is %d bytes, more than %d", account, len(secret), MaxEntrySize)
	}
	m.entries[account] = secret
	return nil
}

// Delete implements Keychain.
func (m *MemoryKeychain) Delete(account string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	if _, ok := m.entries[account]; !ok {
		return ErrNotFound
	}
	delete(m.entries, account)
	return nil
}

// Entries returns a copy of every entry, for tests that look for secrets
// where they must not be, or for leftovers.
func (m *MemoryKeychain) Entries() map[string]string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]string, len(m.entries))
	for k, v := range m.entries {
		out[k] = v
	}
	return out
}
