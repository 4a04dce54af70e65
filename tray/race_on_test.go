//go:build race

package tray

// raceDetector is on: see skipUnderRace.
const raceDetector = true
