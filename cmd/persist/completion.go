package main

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// Shell completion comes from github.com/spf13/cobra, the library of gh,
// etcdctl and kubectl: it writes the bash, zsh and fish scripts and answers
// their questions ("persist __complete ARGS..."). The command keeps its own
// parser; cobra sees a tree of commands and flags built from the same
// table (commands()), so completion always offers exactly what the parser
// accepts.

// completionCmd is set in init: it lists the command table, which holds it.
var completionCmd *command

func init() { completionCmd = newCompletionCmd() }

func newCompletionCmd() *command {
	return &command{
		name:    "completion",
		args:    "bash|zsh|fish",
		summary: "print the shell completion script for bash, zsh or fish",
		detail: `
Prints a script that makes the shell complete persist's subcommands and
flags, and stream names and kv keys from the store (--dir, --pg or
--server, as for any command). Load it once
per shell, or install it where the shell looks for completions.`,
		example: `  persist completion bash > /etc/bash_completion.d/persist
  source <(persist completion bash)
  persist completion zsh > "${fpath[1]}/_persist"
  persist completion fish > ~/.config/fish/completions/persist.fish`,
		flags: func(fs *flag.FlagSet) func(context.Context, *Main, *globals, []string) error {
			return func(ctx context.Context, m *Main, g *globals, args []string) error {
				if len(args) != 1 {
					return usagef("completion", "want one shell: bash, zsh or fish")
				}
				root := m.cobraTree(ctx)
				switch args[0] {
				case "bash":
					return root.GenBashCompletionV2(m.Stdout, true)
				case "zsh":
					return root.GenZshCompletion(m.Stdout)
				case "fish":
					return root.GenFishCompletion(m.Stdout, true)
				}
				return usagef("completion", "shell %q: want bash, zsh or fish", args[0])
			}
		},
	}
}

// isCompleteRequest reports whether args are a completion script's question.
func isCompleteRequest(args []string) bool {
	return len(args) > 0 && (args[0] == cobra.ShellCompRequestCmd || args[0] == cobra.ShellCompNoDescRequestCmd)
}

// complete answers a completion script's question.
func (m *Main) complete(ctx context.Context, args []string) error {
	root := m.cobraTree(ctx)
	root.SetArgs(args)
	return root.ExecuteContext(ctx)
}

// cobraTree is the command table as a cobra tree, for completion only: its
// commands do nothing when run.
func (m *Main) cobraTree(ctx context.Context) *cobra.Command {
	g := m.defaultGlobals()
	root := &cobra.Command{
		Use:   "persist",
		Short: "a durable event log and key-value store on one data directory",
		Run:   func(*cobra.Command, []string) {},
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetOut(m.Stdout)
	root.SetErr(m.Stderr)
	top := flag.NewFlagSet("persist", flag.ContinueOnError)
	g.register(top)
	top.Bool("version", false, "print the version")
	root.Flags().AddGoFlagSet(top)
	m.completeFlags(root, &g)
	for _, c := range commands() {
		root.AddCommand(m.cobraCommand(ctx, c, &g))
	}
	return root
}

func (m *Main) cobraCommand(ctx context.Context, c *command, g *globals) *cobra.Command {
	cc := &cobra.Command{Use: c.name, Short: c.summary}
	if len(c.sub) > 0 {
		for _, s := range c.sub {
			cc.AddCommand(m.cobraCommand(ctx, s, g))
		}
		return cc
	}
	cc.Run = func(*cobra.Command, []string) {}
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	g.register(fs)
	if c.writes {
		g.registerLockWait(fs)
	}
	c.flags(fs)
	cc.Flags().AddGoFlagSet(fs)
	m.completeFlags(cc, g)
	cc.ValidArgsFunction = m.completeArgs(ctx, c, g)
	return cc
}

// completeFlags gives the values of the global flags, and drops the
// backquotes that mark a flag's argument name in its usage.
func (m *Main) completeFlags(cc *cobra.Command, g *globals) {
	cc.Flags().VisitAll(func(f *pflag.Flag) { f.Usage = strings.ReplaceAll(f.Usage, "`", "") })
	_ = cc.MarkFlagDirname("dir")
	_ = cc.RegisterFlagCompletionFunc("o", cobra.FixedCompletions([]string{outSX, outJSON, outTable}, cobra.ShellCompDirectiveNoFileComp))
}

// completeArgs completes the positional arguments of c: stream names for
// read, tail and append, keys for kv get, put and del, shells for
// completion. Names come from the store the command would work on (--dir,
// --pg or --server, or the environment's), a directory opened read-only; a
// store that does not open completes nothing.
func (m *Main) completeArgs(ctx context.Context, c *command, g *globals) cobra.CompletionFunc {
	none := cobra.ShellCompDirectiveNoFileComp
	return func(cc *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if c.name == "completion" {
			return []string{"bash", "zsh", "fish"}, none
		}
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveDefault
		}
		var list func(p *effect.P) ([]string, error)
		switch c {
		case readCmd, tailCmd, appendCmd:
			list = func(p *effect.P) ([]string, error) {
				var names []string
				err := eachStream(p, toComplete, func(s ops.StreamInfo) error {
					names = append(names, s.Name)
					return nil
				})
				return names, err
			}
		case kvGetCmd, kvPutCmd, kvDelCmd:
			list = func(p *effect.P) ([]string, error) {
				res, err := effect.Perform(p, ops.KvList{Prefix: toComplete, Limit: ops.MaxPage})
				var keys []string
				for _, e := range res.Entries {
					keys = append(keys, e.Key)
				}
				return keys, err
			}
		default:
			return nil, none
		}
		// The store is the one the command would open: --dir, --pg or
		// --server as given, else the environment's, as chooseBackend
		// decides for a command that runs.
		dg := *g
		dg.set = map[string]bool{}
		for _, name := range []string{"dir", "pg", "pg-schema", "server", "token"} {
			if f := cc.Flags().Lookup(name); f != nil && f.Changed {
				dg.set[name] = true
			}
		}
		var out []string
		err := dg.chooseBackend(c.name)
		if err == nil {
			err = m.withStore(ctx, &dg, false, func(p *effect.P, _ ops.Backend) error {
				var err error
				out, err = list(p)
				return err
			})
		}
		if err != nil {
			cobra.CompDebugln(fmt.Sprintf("persist: %v", strings.TrimPrefix(err.Error(), "persist: ")), true)
			return nil, none
		}
		return out, none
	}
}
