package auth

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/zalando/go-keyring"
)

// bigRecord is larger than one Windows credential (2,560 bytes), with
// multi-byte characters where a cut could fall.
func bigRecord(n int) Record {
	return Record{Account: Microsoft, RefreshToken: "0.AAAA" + strings.Repeat("x9-_", n/4),
		User: "zoë.ångström@contoso.example", Name: strings.Repeat("Zoë Ångström ", 40), Tenant: "9188040d-6c67-4c5b-b112-36a304b66dad"}
}

// exerciseKeychain runs the record life cycle over kc: a record larger than
// one entry, read back; a shorter one over it, whose stale parts must go;
// delete.
func exerciseKeychain(t *testing.T, kc Keychain, dir string, entries func() int) {
	t.Helper()
	ctx := context.Background()
	st := NewStore(kc, dir)
	if _, err := st.Load(ctx, Microsoft); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Load before any save = %v, want ErrNotFound", err)
	}
	big := bigRecord(6000)
	if err := st.Save(ctx, big); err != nil {
		t.Fatalf("Save a %d-byte token: %v", len(big.RefreshToken), err)
	}
	for i := 0; i < 3; i++ {
		v, err := kc.Get(partName(Microsoft, i))
		if err != nil {
			t.Fatalf("part %d: %v", i, err)
		}
		if len(v) > MaxEntrySize || !utf8.ValidString(v) {
			t.Errorf("part %d is %d bytes (valid UTF-8: %v)", i, len(v), utf8.ValidString(v))
		}
	}
	got, err := st.Load(ctx, Microsoft)
	if err != nil {
		t.Fatal(err)
	}
	if got.RefreshToken != big.RefreshToken || got.User != big.User || got.Name != big.Name {
		t.Errorf("read back a different record")
	}
	n := entries()

	small := Record{Account: Microsoft, RefreshToken: "short", User: "dana@contoso.example"}
	if err := st.Save(ctx, small); err != nil {
		t.Fatal(err)
	}
	if got, err := st.Load(ctx, Microsoft); err != nil || got.RefreshToken != "short" {
		t.Fatalf("after overwrite: %+v, %v", got, err)
	}
	for i := 1; i < 4; i++ {
		if _, err := kc.Get(partName(Microsoft, i)); !errors.Is(err, ErrNotFound) {
			t.Errorf("stale part %d left behind: %v", i, err)
		}
	}
	if m := entries(); m >= n && entries() != -1 {
		t.Errorf("%d entries after the shorter record, %d before", m, n)
	}

	if err := st.Save(ctx, big); err != nil {
		t.Fatal(err)
	}
	if err := st.Delete(ctx, Microsoft); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 4; i++ {
		if _, err := kc.Get(partName(Microsoft, i)); !errors.Is(err, ErrNotFound) {
			t.Errorf("entry %d left after Delete: %v", i, err)
		}
	}
	if _, err := st.Load(ctx, Microsoft); !errors.Is(err, ErrNotFound) {
		t.Errorf("Load after Delete = %v", err)
	}
}

func TestStoreSplitsLongRecordsInMemory(t *testing.T) {
	kc := NewMemoryKeychain()
	exerciseKeychain(t, kc, t.TempDir(), func() int { return len(kc.Entries()) })
}

// go-keyring's mock replaces its backend for the whole process, for good:
// it runs in a child process so that the Secret Service test below still
// talks to the real service.
func TestStoreWithGoKeyringMock(t *testing.T) {
	if os.Getenv("VPCONNECT_TEST_MOCK_CHILD") == "1" {
		keyring.MockInit()
		exerciseKeychain(t, NewSystemKeychain("vpconnect-mock"), t.TempDir(), func() int { return -1 })
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestStoreWithGoKeyringMock$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), "VPCONNECT_TEST_MOCK_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestStoreWithGoKeyringMock") {
		t.Fatalf("child: %v\n%s", err, out)
	}
}

func TestStoreDetectsDamage(t *testing.T) {
	ctx := context.Background()
	kc := NewMemoryKeychain()
	st := NewStore(kc, t.TempDir())
	if err := st.Save(ctx, bigRecord(4000)); err != nil {
		t.Fatal(err)
	}
	// A part from another record (a crash between the parts and the header).
	if err := kc.Set(partName(Microsoft, 1), strings.Repeat("y", 100)); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Load(ctx, Microsoft); !errors.Is(err, ErrDamaged) {
		t.Errorf("mismatched part: %v", err)
	}
	if err := kc.Delete(partName(Microsoft, 1)); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Load(ctx, Microsoft); !errors.Is(err, ErrDamaged) {
		t.Errorf("missing part: %v", err)
	}
	if err := kc.Set(Vantagepoint, "hunter2"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Load(ctx, Vantagepoint); !errors.Is(err, ErrDamaged) {
		t.Errorf("foreign entry: %v", err)
	}
	// A TokenSource over a damaged record asks for a sign-in.
	ts := MicrosoftApp{ClientID: "x", AuthorityURL: "http://127.0.0.1:1"}.TokenSource(ctx, st, nil)
	_, err := ts.Token()
	wantSignInRequired(t, err, Microsoft)
}

func TestStoreNeverHoldsAccessTokens(t *testing.T) {
	v := newVP(t)
	st, kc := newTestStore(t)
	s := signedInVP(t, v, vpApp(v, nil), st)
	for name, e := range kc.Entries() {
		if strings.Contains(e, s.Token.AccessToken) {
			t.Errorf("entry %s holds the access token", name)
		}
		if strings.Contains(e, "s3cret-Password") {
			t.Errorf("entry %s holds the password", name)
		}
	}
}

// The keychain against a real Secret Service: gnome-keyring-daemon in a
// private D-Bus session (.ci/with-keyring). With VPCONNECT_TEST_SECRET_SERVICE
// set (make test), a missing service fails the test instead of skipping it.
func TestSystemKeychainOnSecretService(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the Secret Service is Linux's keychain")
	}
	required := os.Getenv("VPCONNECT_TEST_SECRET_SERVICE") != ""
	if !required {
		t.Skip("set VPCONNECT_TEST_SECRET_SERVICE=1 and run under .ci/with-keyring to test the real keychain")
	}
	if os.Getenv("DBUS_SESSION_BUS_ADDRESS") == "" {
		t.Fatal("VPCONNECT_TEST_SECRET_SERVICE is set but there is no D-Bus session bus: run the tests under .ci/with-keyring")
	}
	kc := NewSystemKeychain(fmt.Sprintf("vpconnect-test-%d", time.Now().UnixNano()))
	kc.Timeout = 20 * time.Second
	if err := NewStore(kc, t.TempDir()).Check(); err != nil {
		t.Fatalf("the Secret Service cannot be used: %v", err)
	}
	exerciseKeychain(t, kc, t.TempDir(), func() int { return storedParts(kc) })
}

// storedParts counts the entries the Microsoft record is split into.
func storedParts(kc Keychain) int {
	n := 0
	for i := 0; i < 6; i++ {
		if _, err := kc.Get(partName(Microsoft, i)); err == nil {
			n++
		}
	}
	return n
}

// Without a session bus the keychain is unavailable, with a clear error and
// no panic. godbus keeps its session connection for the life of the
// process, so this runs in a child process with a bus address that leads
// nowhere.
func TestSystemKeychainWithoutSessionBus(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("D-Bus is Linux's")
	}
	if os.Getenv("VPCONNECT_TEST_NO_BUS_CHILD") == "1" {
		kc := NewSystemKeychain("vpconnect-nobus")
		kc.Timeout = 10 * time.Second
		_, err := kc.Get(Microsoft)
		fmt.Printf("ERR=%v\n", err)
		if !errors.Is(err, ErrKeychainUnavailable) {
			os.Exit(3)
		}
		err = NewStore(kc, t.TempDir()).Save(context.Background(), Record{Account: Microsoft, RefreshToken: "x"})
		if !errors.Is(err, ErrKeychainUnavailable) {
			fmt.Printf("SAVE=%v\n", err)
			os.Exit(4)
		}
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestSystemKeychainWithoutSessionBus$", "-test.count=1")
	cmd.Env = append(os.Environ(), "VPCONNECT_TEST_NO_BUS_CHILD=1",
		"DBUS_SESSION_BUS_ADDRESS=unix:path=/nonexistent/vpconnect-test-bus")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "ERR=the keychain is unavailable") || strings.Contains(string(out), "panic") {
		t.Errorf("child output:\n%s", out)
	}
}
