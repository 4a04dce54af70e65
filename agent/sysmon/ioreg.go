package sysmon

import (
	"errors"
	"math"
	"regexp"
	"strconv"
	"time"
)

// hidIdleTime matches the property of IOHIDSystem that holds the time since
// the last keyboard or mouse input, in nanoseconds.
var hidIdleTime = regexp.MustCompile(`"HIDIdleTime"\s*=\s*(\d+)`)

// parseHIDIdleTime reads the time since the last input from the output of
// `ioreg -c IOHIDSystem`. A machine may list more than one IOHIDSystem; the
// smallest time is the latest input.
func parseHIDIdleTime(out []byte) (time.Duration, error) {
	found := false
	var least uint64
	for _, m := range hidIdleTime.FindAllSubmatch(out, -1) {
		ns, err := strconv.ParseUint(string(m[1]), 10, 64)
		if err != nil {
			// Only an overflow gets here: more than 584 years idle.
			ns = math.MaxUint64
		}
		if !found || ns < least {
			least, found = ns, true
		}
	}
	if !found {
		return 0, errors.New("ioreg listed no HIDIdleTime for IOHIDSystem")
	}
	return time.Duration(min(least, math.MaxInt64)), nil
}
