package cli

import (
	"context"
	"fmt"
	"runtime/debug"
)

// stampedVersion is set at build time by the Makefile:
//
//	go build -ldflags "-X spool/client/cli.stampedVersion=$(git describe ...)"
//
// It is a package variable only because -X can set nothing else.
var stampedVersion string

// Version is this build's version: the stamped one, else the main module's version
// from the build information (a `go install spool/cmd/spool@v1.2.3` build knows
// it), else the VCS revision go build records, else "dev". cmd/spool uses it for the
// User-Agent, spool/VERSION.
func Version() string {
	if stampedVersion != "" {
		return stampedVersion
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	return versionFromBuildInfo(info)
}

func versionFromBuildInfo(info *debug.BuildInfo) string {
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var revision, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			revision = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if revision == "" {
		return "dev"
	}
	v := "dev-" + revision[:min(12, len(revision))]
	if modified == "true" {
		v += "-dirty"
	}
	return v
}

func versionCommand() command {
	return command{
		name:     "version",
		topLevel: true,
		summary:  "print spool's version (also --version)",
		about: `Prints the version this spool was built as: the git description the Makefile
stamps, else the module version or VCS revision Go recorded, else "dev".`,
		example: "  spool version\n  spool --version",
		flags:   withoutArgs(func(a *app, _ context.Context) error { return a.printVersion() }),
	}
}

func (a *app) printVersion() error {
	_, err := fmt.Fprintf(a.stdout, "spool %s\n", Version())
	return err
}
