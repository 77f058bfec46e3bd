package cmd

import (
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/raftctl/raftctl/format"
)

func init() { extraCommands = append(extraCommands, newVersionCmd) }

// version overrides the module version from the build information, for
// release builds: go build -ldflags "-X github.com/raftctl/raftctl/cmd.version=v1.2.3".
var version string

// versionInfo is the output of `raftctl version -o json`.
type versionInfo struct {
	SchemaVersion int    `json:"schema_version"`
	Version       string `json:"version"`
	Commit        string `json:"commit"`
	Go            string `json:"go"`
}

// buildVersion reads the module version, VCS commit and Go version from
// the binary's build information; what it lacks (a binary built with
// -buildvcs=false, or outside a module) is "unknown". A commit built from
// a tree with uncommitted changes ends in "-dirty".
func buildVersion(info *debug.BuildInfo, ok bool) versionInfo {
	v := versionInfo{SchemaVersion: 1, Version: "unknown", Commit: "unknown", Go: runtime.Version()}
	if ok && info != nil {
		if info.Main.Version != "" {
			v.Version = info.Main.Version
		}
		if info.GoVersion != "" {
			v.Go = info.GoVersion
		}
		modified := false
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				if s.Value != "" {
					v.Commit = s.Value
				}
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if modified && v.Commit != "unknown" {
			v.Commit += "-dirty"
		}
	}
	if version != "" {
		v.Version = version
	}
	return v
}

func newVersionCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print raftctl's version, VCS commit and Go version",
		Long: `Print the version of the raftctl module, the VCS commit it was built from and
the Go version that built it, as recorded in the binary. A binary built
without VCS information (go build -buildvcs=false, or outside a checkout)
says "unknown" for what it lacks; a development build's version is "(devel)".
-o json prints {"schema_version", "version", "commit", "go"}.

` + exitStatusHelp(),
		Example: `  $ raftctl version
  $ raftctl version -o json`,
		Args: cobra.NoArgs,
		RunE: run(func(cmd *cobra.Command, args []string) error {
			mode, err := g.mode()
			if err != nil {
				return err
			}
			v := buildVersion(debug.ReadBuildInfo())
			return renderDoc(g, mode, v, []versionInfo{v}, func() error {
				t := &format.Table{Rows: [][]string{{"version", v.Version}, {"commit", v.Commit}, {"go", v.Go}}}
				return t.Render(g.io.Out, mode, format.TableOptions{Width: g.io.Width})
			})
		}),
	}
}
