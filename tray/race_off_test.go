//go:build !race

package tray

// raceDetector is off: see skipUnderRace.
const raceDetector = false
