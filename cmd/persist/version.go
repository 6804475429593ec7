package main

import (
	"context"
	"flag"
	"runtime"
	"runtime/debug"

	"rose-ash.com/persist/backends/file"
)

var versionCmd = &command{
	name:    "version",
	args:    "",
	summary: "print the command's version, the store format version and the Go version",
	detail: `
Prints one record: the module and its version (as the build recorded it:
a tagged version, a pseudo-version, or (devel) for a build from a work
tree), the VCS revision when recorded, the versions of the on-disk formats
the file backend writes (log segments, store checkpoints, snapshot files), and the Go version it was built with.
persist --version prints the same.`,
	example: `  persist version -o json`,
	flags: func(fs *flag.FlagSet) func(context.Context, *Main, *globals, []string) error {
		return func(ctx context.Context, m *Main, g *globals, args []string) error {
			if len(args) != 0 {
				return usagef("version", "unexpected argument %q", args[0])
			}
			return writeOne(m, g, versionRecord())
		}
	},
}

// versionRecord describes this build.
func versionRecord() record {
	module, version, revision := "rose-ash.com/persist", "(unknown)", ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Path != "" {
			module = bi.Main.Path
		}
		if bi.Main.Version != "" {
			version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				revision = s.Value
			}
		}
	}
	r := record{
		{"module", module},
		{"version", version},
		{"format", file.FormatVersion},
		{"checkpoint-format", file.CheckpointFormatVersion},
		{"snapshot-format", file.SnapshotFormatVersion},
		{"go", runtime.Version()},
	}
	if revision != "" {
		r = append(r, field{"revision", revision})
	}
	return r
}
