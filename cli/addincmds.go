package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"vpconnect/agent/localapi"
)

func init() {
	register("addins", command{synopsis: "addins [list|revoke ID] [--json]", order: 27,
		help: "list the paired Outlook add-ins, or disconnect one", run: (*cli).runAddins})
}

// runAddins lists the add-ins paired with the running agent, or revokes
// one (it must be approved again, by its code, to use the agent).
func (c *cli) runAddins(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	verb := "list"
	if len(args) > 0 && (args[0] == "list" || args[0] == "revoke") {
		verb, args = args[0], args[1:]
	}
	fs := c.newFlags("addins "+verb, stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	// Flags may follow the ID too: parse again after each argument.
	var ids []string
	for {
		if err := parse(fs, args, len(args)); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		ids, args = append(ids, fs.Arg(0)), fs.Args()[1:]
	}
	want := 0
	if verb == "revoke" {
		want = 1
	}
	if len(ids) != want {
		fmt.Fprintln(stderr, "usage: vpconnect addins [list|revoke ID] [--json] (the ID from 'vpconnect addins list')")
		return fmt.Errorf("%w: addins %s takes %d argument(s)", errUsage, verb, want)
	}
	ac, err := c.dialAgent(ctx)
	if errors.Is(err, localapi.ErrNoAgent) {
		return fmt.Errorf("list the paired add-ins: %w (the add-ins are paired with the running agent)", err)
	} else if err != nil {
		return err
	}
	if verb == "revoke" {
		id := ids[0]
		if err := ac.RevokeAddin(ctx, id); err != nil {
			return fmt.Errorf("revoke add-in %s: %w", id, err)
		}
		if *asJSON {
			return json.NewEncoder(stdout).Encode(map[string]any{"revoked": id})
		}
		fmt.Fprintf(stdout, "Add-in %s is disconnected; it must be approved again to use vpconnect.\n", id)
		return nil
	}
	list, err := ac.Addins(ctx)
	if err != nil {
		return fmt.Errorf("list the paired add-ins: %w", err)
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(list)
	}
	if len(list) == 0 {
		fmt.Fprintln(stdout, "No add-in is paired.")
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tORIGIN\tNAME\tPAIRED")
	for _, a := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", a.ID, a.Origin, a.Name, a.Created.Local().Format(time.DateTime))
	}
	return tw.Flush()
}
