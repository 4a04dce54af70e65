package syncer

import "strings"

// normalizeAddress makes e-mail addresses comparable: Exchange and
// Vantagepoint keep whatever case the user typed, and docs/behaviour.md §4.1 compares
// addresses case-insensitively.
func normalizeAddress(a string) string {
	return strings.ToLower(strings.TrimSpace(a))
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
