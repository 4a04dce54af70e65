package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"vpconnect/agent/config"
)

func init() {
	register("config", command{synopsis: "config [--json]", order: 26,
		help: "the effective configuration (file + IT policy) and which keys the policy sets", run: (*cli).runConfig})
}

// effectiveConfig is what `vpconnect config --json` prints: what the agent
// would run with, so that IT can see a policy (registry, profile, policy
// file) arrive without reading the agent's log.
type effectiveConfig struct {
	// File is the configuration file read (it may not exist).
	File string `json:"file"`
	// Config is the file's values with the policy over them. The
	// Vantagepoint client secret is shown as "(set)", never as itself.
	Config config.Config `json:"config"`
	// Policy maps each key the policy sets to where it was read.
	Policy map[string]string `json:"policy"`
	// Problems are policy values ignored, and why.
	Problems []string `json:"problems"`
}

func (c *cli) runConfig(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := c.newFlags("config", stderr)
	asJSON := fs.Bool("json", false, "print the effective configuration as JSON")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	path, err := config.PathFromEnv(c.configPath)
	if err != nil {
		return err
	}
	file, _, err := config.Load(path)
	if err != nil {
		return err
	}
	pol, problems := config.LoadPolicy()
	cfg, more := file.Effective(pol)
	if cfg.Vantagepoint.ClientSecret != "" {
		// IT distributes it to every machine, but it is still not for a
		// screen or a support ticket.
		cfg.Vantagepoint.ClientSecret = "(set)"
	}
	out := effectiveConfig{File: path, Config: cfg, Policy: map[string]string{}, Problems: []string{}}
	for _, k := range pol.Keys() {
		out.Policy[k] = pol.Source(k)
	}
	for _, p := range append(problems, more...) {
		out.Problems = append(out.Problems, p.Error())
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	fmt.Fprintf(stdout, "Configuration file: %s\n", path)
	if len(out.Policy) == 0 {
		fmt.Fprintln(stdout, "No IT policy is set.")
	}
	for _, k := range pol.Keys() {
		fmt.Fprintf(stdout, "Set by policy: %s (%s)\n", k, out.Policy[k])
	}
	for _, p := range out.Problems {
		fmt.Fprintf(stdout, "Ignored: %s\n", p)
	}
	fmt.Fprintln(stdout, "'vpconnect config --json' prints every value.")
	return nil
}
