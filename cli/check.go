package cli

import (
	"context"
	"fmt"
	"io"

	"vpconnect/agent/config"
	"vpconnect/agent/system"
)

func init() {
	register("check", command{synopsis: "check", order: 12,
		help: "ask Microsoft's identity platform, without signing in, whether the app registration and tenant let the agent sign in",
		run:  (*cli).runCheck})
}

// runCheck is the Microsoft 365 half of the prerequisites, for IT or a
// user before activating: it needs only microsoft.* of the configuration
// and no sign-in. Each line says what was asked; a failure says whether the
// app registration is wrong (and which setting to change, where), the
// configuration points elsewhere, or the platform could not be reached.
func (c *cli) runCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := c.newFlags("check", stderr)
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
	for _, p := range append(problems, more...) {
		fmt.Fprintf(stderr, "vpconnect: %v\n", p)
	}
	if cfg.Microsoft.ClientID == "" {
		return fmt.Errorf("microsoft.clientId is not set in %s: register the app in Entra ID as docs/deployment.md says and set it", path)
	}
	app, _ := system.Apps(c.env, cfg)
	steps := app.Check(ctx)
	lines := make([]checkLine, 0, len(steps))
	for _, st := range steps {
		lines = append(lines, checkLine{name: st.Name, ok: st.OK, detail: st.Detail, fix: st.Fix})
	}
	if failed := printChecklist(stdout, lines); failed > 0 {
		return fmt.Errorf("%d of %d checks failed", failed, len(steps))
	}
	fmt.Fprintln(stdout, "The app registration lets the agent sign in to Microsoft 365.")
	return nil
}

// checkLine is one line of a checklist (vpconnect check, admin check).
type checkLine struct {
	name, detail, fix string
	ok                bool
}

// printChecklist prints a checklist, ✓ or ✗ a line with the fix under a
// failed one, and returns how many failed.
func printChecklist(w io.Writer, lines []checkLine) int {
	failed := 0
	for _, l := range lines {
		mark := "✓"
		if !l.ok {
			mark = "✗"
			failed++
		}
		line := mark + " " + l.name
		if l.detail != "" {
			line += ": " + l.detail
		}
		fmt.Fprintln(w, line)
		if !l.ok && l.fix != "" {
			fmt.Fprintln(w, "    fix: "+l.fix)
		}
	}
	return failed
}
