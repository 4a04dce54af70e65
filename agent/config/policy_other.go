//go:build !windows && !darwin

package config

// PolicyPath is the policy file LoadPolicy reads; a variable so that tests
// and packagers with another layout can point it elsewhere.
var PolicyPath = LinuxPolicyPath

// LoadPolicy reads the administrator's policy from the platform's source:
// here, the JSON file at PolicyPath. Problems are reported, never fatal.
func LoadPolicy() (Policy, []error) {
	return LoadPolicyFile(PolicyPath)
}
