package cli

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"strings"

	"vpconnect/addin"
	"vpconnect/agent"
)

// 'vpconnect addin package' writes the Outlook add-in for IT to host
// (docs/deployment.md, "The Outlook add-in"). The work is package addin's;
// this file is flags and wiring.

func init() {
	register("addin", command{synopsis: "addin package --base-url URL --out DIR", order: 45,
		help:  "for IT: write the Outlook add-in's manifest and files to host on an HTTPS server",
		usage: addinUsage,
		verbs: map[string]func(*cli, context.Context, []string, io.Writer, io.Writer) error{
			"package": func(c *cli, _ context.Context, args []string, stdout, stderr io.Writer) error {
				return c.runAddinPackage(args, stdout, stderr)
			}}})
}

const addinUsage = "usage: vpconnect addin package --base-url URL --out DIR [--version V] [--category NAME] [--port N]"

func (c *cli) runAddinPackage(args []string, stdout, stderr io.Writer) error {
	fs := c.newFlags("addin package", stderr)
	base := fs.String("base-url", "", "the https address the files will be served from (required)")
	out := fs.String("out", "", "the folder to write into (required)")
	version := fs.String("version", addinVersion(agent.Version), "the add-in's version; raise it for Microsoft 365 to offer an update")
	category := fs.String("category", "Vantagepoint", "sync.category of the agents")
	port := fs.Int("port", addin.DefaultPort, "localApi.port of the agents")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	if *base == "" || *out == "" {
		fmt.Fprintln(stderr, addinUsage)
		return fmt.Errorf("%w: --base-url and --out are required", errUsage)
	}
	written, err := addin.Package(addin.Options{BaseURL: *base, Version: *version, Category: *category, Port: *port}, *out)
	if err != nil {
		return fmt.Errorf("package the add-in: %w", err)
	}
	for _, w := range written {
		fmt.Fprintln(stdout, w)
	}
	u, _ := url.Parse(*base) // Package checked it
	origin := u.Scheme + "://" + u.Host
	fmt.Fprintf(stdout, "\nHost the folder at %s, then deploy manifest.xml in the Microsoft 365 admin center\n"+
		"(Settings > Integrated apps > Upload custom apps). Add %s to each agent's localApi.allowedOrigins\n"+
		"and to the browsers' LocalNetworkAccessAllowedForUrls policy (docs/deployment.md).\n", strings.TrimSuffix(*base, "/"), origin)
	return nil
}

// addinVersion turns the agent's version (1.4.2, v1.4.2-rc1) into the four
// numbers a manifest takes; a development build is 1.0.0.0.
func addinVersion(v string) string {
	m := regexp.MustCompile(`^v?(\d{1,5})(?:\.(\d{1,5}))?(?:\.(\d{1,5}))?`).FindStringSubmatch(v)
	if m == nil {
		return "1.0.0.0"
	}
	parts := []string{m[1], "0", "0", "0"}
	for i := 2; i <= 3; i++ {
		if m[i] != "" {
			parts[i-1] = m[i]
		}
	}
	return strings.Join(parts, ".")
}
