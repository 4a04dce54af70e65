package main

import (
	"context"
	"fmt"
	"io"

	"vpconnect/agent/config"
)

func init() {
	register("check", command{synopsis: "check", order: 12,
		help: "ask Microsoft's identity platform, without signing in, whether the app registration and tenant let the agent sign in",
		run:  runCheck})
}

// runCheck is the Microsoft 365 half of the prerequisites, for IT or a
// user before activating: it needs only microsoft.* of the configuration
// and no sign-in. Each line says what was asked; a failure says whether the
// app registration is wrong (and which setting to change, where), the
// configuration points elsewhere, or the platform could not be reached.
func runCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("check", stderr)
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	path, err := config.PathFromEnv(globalConfigPath)
	if err != nil {
		return err
	}
	file, _, err := config.Load(path)
	if err != nil {
		return err
	}
	pol, problems := config.LoadPolicy()
	cfg, more := file.Effective(pol)
	for _, p := range append(problems, more...) {
		fmt.Fprintf(stderr, "vpconnect: %v\n", p)
	}
	if cfg.Microsoft.ClientID == "" {
		return fmt.Errorf("microsoft.clientId is not set in %s: register the app in Entra ID as docs/deployment.md says and set it", path)
	}
	app, _ := apps(cfg)
	steps := app.Check(ctx)
	failed := 0
	for _, st := range steps {
		mark := "✓"
		if !st.OK {
			mark = "✗"
			failed++
		}
		line := mark + " " + st.Name
		if st.Detail != "" {
			line += ": " + st.Detail
		}
		fmt.Fprintln(stdout, line)
		if !st.OK && st.Fix != "" {
			fmt.Fprintln(stdout, "    fix: "+st.Fix)
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d checks failed", failed, len(steps))
	}
	fmt.Fprintln(stdout, "The app registration lets the agent sign in to Microsoft 365.")
	return nil
}
