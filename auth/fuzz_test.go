package auth

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"vpconnect/internal/fault"
)

// FuzzDecodeTokenResponse: any answer of a token endpoint gives a token or
// a classified error, never a panic, and an error never repeats the body
// (it may hold a token).
func FuzzDecodeTokenResponse(f *testing.F) {
	for _, name := range []string{"token-response-authcode.json", "devicecode-token-response.json",
		"token-error-invalid-scope.json", "token-error-sample-with-error-uri.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", "fixtures", "identity", name))
		if err != nil {
			f.Fatalf("seed: %v", err)
		}
		f.Add(200, b)
		f.Add(400, b)
	}
	f.Add(200, []byte(`{"access_token":"a","expires_in":"3599","refresh_token":"r","id_token":"x.eyJ0aWQiOiJ0In0.y"}`))
	f.Add(200, []byte(`{"access_token":"a","expires_in":-1}`))
	f.Add(503, []byte(`<html>busy</html>`))
	f.Add(429, []byte(``))
	f.Add(200, []byte(`{"access_token":""}`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		h := http.Header{"Retry-After": {"5"}}
		tok, err := decodeTokenResponse(status, h, body, time.Unix(1_800_000_000, 0))
		if err == nil {
			if tok == nil || tok.AccessToken == "" {
				t.Fatalf("no error and no access token")
			}
			if status != 200 {
				t.Fatalf("status %d accepted", status)
			}
			if idt, _ := tok.Extra("id_token").(string); idt != "" {
				_, _ = parseIDToken(idt)
			}
			return
		}
		var oe *OAuthError
		if !errors.As(err, &oe) && !errors.Is(err, fault.ErrMalformed) {
			t.Fatalf("unclassified error %v", err)
		}
		c := classifyMicrosoft(err, "")
		var sre *SignInRequiredError
		if errors.As(c, &sre) && errors.Is(c, fault.ErrUnavailable) {
			t.Fatalf("both a rejection and transient: %v", c)
		}
		if len(body) > 8 && strings.Contains(err.Error(), string(body)) {
			t.Fatalf("the error repeats the body: %v", err)
		}
	})
}

// FuzzKeychainBlob: whatever sits in the keychain entries, reading gives a
// record or ErrDamaged, never a panic; and any record survives the split
// and the reassembly.
func FuzzKeychainBlob(f *testing.F) {
	entries, _ := splitBlob(`{"account":"microsoft","refreshToken":"` + strings.Repeat("r", 5000) + `"}`)
	f.Add(entries[0], entries[1], strings.Repeat("é", 1500))
	f.Add("vpconnect1 1 0123456789abcdef\n{}", "", "x")
	f.Add("vpconnect1 99 0123456789abcdef\n", "", "")
	f.Add("garbage", "more", "ü")
	f.Fuzz(func(t *testing.T, first, second, token string) {
		kc := NewMemoryKeychain()
		kc.entries[Microsoft] = first
		kc.entries[partName(Microsoft, 1)] = second
		st := NewStore(kc, t.TempDir())
		if r, err := st.loadLocked(Microsoft); err == nil {
			if r.Account != Microsoft || r.RefreshToken == "" {
				t.Fatalf("accepted a record without account or token: %+v", r)
			}
		} else if !errors.Is(err, ErrDamaged) {
			t.Fatalf("err = %v, want ErrDamaged", err)
		}

		// Tokens come out of JSON answers, so they are valid UTF-8 (JSON
		// would turn anything else into U+FFFD).
		if token == "" || len(token) > 20000 || !utf8.ValidString(token) || !utf8.ValidString(first) {
			return
		}
		rec := Record{Account: Vantagepoint, RefreshToken: token, Username: first}
		if err := st.saveLocked(rec); err != nil {
			if strings.Contains(err.Error(), "more than") {
				return // too big for 16 entries: refused, not mangled
			}
			t.Fatal(err)
		}
		for name, v := range kc.Entries() {
			if len(v) > MaxEntrySize {
				t.Fatalf("entry %s is %d bytes", name, len(v))
			}
		}
		got, err := st.loadLocked(Vantagepoint)
		if err != nil {
			t.Fatalf("read back: %v", err)
		}
		if got.RefreshToken != rec.RefreshToken || got.Username != rec.Username {
			t.Fatalf("read back a different record")
		}
	})
}
