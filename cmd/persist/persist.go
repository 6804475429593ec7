package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"sort"
	"strings"
	"time"

	"rose-ash.com/persist/backends/file"
	"rose-ash.com/persist/backends/postgres"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/platform"
	"rose-ash.com/persist/transfer"
)

// Main is the persist command: its streams, environment and the way it opens
// a store. The zero value is not ready: Stdout, Stderr and Getenv must be set.
type Main struct {
	Stdin  io.Reader // read by the @- literal; may be nil
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string

	// Progress receives the progress of long commands (crashtest, verify,
	// dump, bench);
	// nil means none. The real command sets it to stderr when stderr is a
	// terminal.
	Progress io.Writer
	// StdoutTerminal is set when standard output is a terminal: dump then
	// draws no progress line, its records being the progress.
	StdoutTerminal bool

	// Open opens the store in dir, creating it when create is set. Nil
	// means the durable file backend; tests put another backend here.
	Open func(ctx context.Context, dir string, create bool) (ops.Backend, error)
}

// globals are the flags every subcommand accepts.
type globals struct {
	dir         string
	output      string
	segmentSize int64

	// lockWait is how long a command that writes waits for another
	// writer's lock (--lock-wait, env PERSIST_LOCK_WAIT); lockWaitEnv is
	// the environment's text, checked with the flags.
	lockWait    time.Duration
	lockWaitEnv string

	// pg is the DSN of a PostgreSQL store (--pg, env PERSIST_PG) and
	// pgSchema its schema (--pg-schema, env PERSIST_PG_SCHEMA); server the
	// URL of a persist server (--server, env PERSIST_SERVER) and token the
	// bearer token sent to it (--token, env PERSIST_TOKEN).
	// The flags have no defaults, so that --help never shows a password
	// or a token; check fills them from env, the environment's values.
	pg, pgSchema, server, token string
	env                         struct{ pg, pgSchema, server, token string }
	// set holds the global flags given on the command line, before or
	// after the subcommand; kind is the backend check chose from them and
	// the environment.
	set  map[string]bool
	kind backendKind
	// clock, when set, becomes the clock of the store the command opens
	// on a data directory or PostgreSQL, for the command to hold (export).
	clock *transfer.Clock
}

// backendKind is where a command's operations go.
type backendKind uint8

const (
	onDir    backendKind = iota // the file backend in --dir
	onPG                        // a PostgreSQL store, --pg
	onServer                    // a persist server, --server
)

// Environment variables of the backend flags.
const (
	envDir      = "PERSIST_DIR"
	envPG       = "PERSIST_PG"
	envPGSchema = "PERSIST_PG_SCHEMA"
	envServer   = "PERSIST_SERVER"
	envToken    = "PERSIST_TOKEN"
)

// defaultLockWait is how long a writer waits for the lock unless told.
const defaultLockWait = 5 * time.Second

// envLockWait sets --lock-wait's default.
const envLockWait = "PERSIST_LOCK_WAIT"

const defaultDir = "./persist-data"

func (m *Main) getenv(key string) string {
	if m.Getenv == nil {
		return ""
	}
	return m.Getenv(key)
}

func (m *Main) defaultGlobals() globals {
	g := globals{
		dir: m.getenv(envDir), output: "sx", lockWait: defaultLockWait,
		set: map[string]bool{},
	}
	g.env.pg, g.env.pgSchema = m.getenv(envPG), m.getenv(envPGSchema)
	g.env.server, g.env.token = m.getenv(envServer), m.getenv(envToken)
	if g.dir == "" {
		g.dir = defaultDir
	}
	if s := m.getenv(envLockWait); s != "" {
		g.lockWaitEnv = s
		if d, err := time.ParseDuration(s); err == nil {
			g.lockWait = d
		}
	}
	return g
}

func (g *globals) register(fs *flag.FlagSet) {
	fs.StringVar(&g.dir, "dir", g.dir, "data directory `DIR` (env PERSIST_DIR)")
	fs.StringVar(&g.output, "o", g.output, "output `FORMAT`: sx (SX notation), json (JSON lines) or table")
	fs.Int64Var(&g.segmentSize, "segment-size", g.segmentSize, "`BYTES` at which the log rolls to a new segment (0: the default, 64 MiB)")
	fs.StringVar(&g.pg, "pg", g.pg, "work on the PostgreSQL store at `DSN` instead of a directory (env "+envPG+")")
	fs.StringVar(&g.pgSchema, "pg-schema", g.pgSchema, "the PostgreSQL `SCHEMA` that holds the store (env "+envPGSchema+", default persist)")
	fs.StringVar(&g.server, "server", g.server, "work on the store a persist server at `URL` serves (env "+envServer+")")
	fs.StringVar(&g.token, "token", g.token, "bearer `TOKEN` sent to --server (env "+envToken+")")
}

// noteSet records which global flags fs was given.
func (g *globals) noteSet(fs *flag.FlagSet) {
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "dir", "pg", "pg-schema", "server", "token":
			g.set[f.Name] = true
		}
	})
}

// chooseBackend decides where the operations go: the one of --dir, --pg
// and --server given on the command line, else PERSIST_SERVER, else
// PERSIST_PG, else the directory (PERSIST_DIR or the default).
func (g *globals) chooseBackend(cmd string) error {
	var given []string
	for _, f := range []string{"dir", "pg", "server"} {
		if g.set[f] {
			given = append(given, "--"+f)
		}
	}
	if len(given) > 1 {
		return usagef(cmd, "%s name different stores: give at most one of --dir, --pg and --server", strings.Join(given, " and "))
	}
	for _, f := range []struct {
		name     string
		val, env *string
	}{{"pg", &g.pg, &g.env.pg}, {"pg-schema", &g.pgSchema, &g.env.pgSchema}, {"server", &g.server, &g.env.server}, {"token", &g.token, &g.env.token}} {
		if !g.set[f.name] {
			*f.val = *f.env
		}
	}
	switch {
	case g.set["dir"]:
		g.kind = onDir
	case g.set["pg"]:
		g.kind = onPG
	case g.set["server"]:
		g.kind = onServer
	case g.server != "":
		g.kind = onServer
	case g.pg != "":
		g.kind = onPG
	default:
		g.kind = onDir
	}
	switch g.kind {
	case onPG:
		if g.pg == "" {
			return usagef(cmd, "--pg is empty: want a DSN such as postgres://user@host:5432/db")
		}
	case onServer:
		if g.server == "" {
			return usagef(cmd, "--server is empty: want a URL such as http://127.0.0.1:7070")
		}
	}
	if g.set["pg-schema"] && g.kind != onPG {
		return usagef(cmd, "--pg-schema goes with --pg")
	}
	if g.set["token"] && g.kind != onServer {
		return usagef(cmd, "--token goes with --server")
	}
	return nil
}

// backendFlag names the flag, or the environment variable, that chose a
// backend other than the directory.
func (g *globals) backendFlag() string {
	switch g.kind {
	case onPG:
		if g.set["pg"] {
			return "--pg"
		}
		return envPG
	case onServer:
		if g.set["server"] {
			return "--server"
		}
		return envServer
	}
	return "--dir"
}

// where names the store in messages: the directory, the DSN without its
// password, or the server's URL.
func (g *globals) where() string {
	switch g.kind {
	case onPG:
		return postgres.Redact(g.pg)
	case onServer:
		return g.server
	}
	return g.dir
}

// registerLockWait adds --lock-wait, for the commands that write.
func (g *globals) registerLockWait(fs *flag.FlagSet) {
	fs.DurationVar(&g.lockWait, "lock-wait", g.lockWait, "`DURATION` to wait for the lock while another process holds the store open for writing, such as 5s or 0 (env "+envLockWait+")")
}

func (g *globals) check(cmd string, writes bool) error {
	if writes && g.lockWaitEnv != "" {
		if d, err := time.ParseDuration(g.lockWaitEnv); err != nil || d < 0 {
			return usagef(cmd, "%s=%q: want a duration such as 5s or 0", envLockWait, g.lockWaitEnv)
		}
	}
	if g.lockWait < 0 {
		return usagef(cmd, "--lock-wait %s: want a duration of 0 or more", g.lockWait)
	}
	switch g.output {
	case outSX, outJSON, outTable:
	default:
		return usagef(cmd, "-o %q: want sx, json or table", g.output)
	}
	if g.dir == "" {
		return usagef(cmd, "--dir is empty")
	}
	return g.chooseBackend(cmd)
}

// command is one subcommand.
type command struct {
	name    string
	args    string // the synopsis after the name
	summary string
	detail  string // more prose for --help, may be empty
	example string
	// writes is set on a command that opens the store for writing: it
	// takes --lock-wait.
	writes bool
	// fileOnly, when set, says why the command works on a data directory
	// only: it refuses --pg and --server with that reason.
	fileOnly string
	// sub lists the subcommands of a command group such as kv; a group has
	// no flags of its own.
	sub []*command
	// flags registers the subcommand's own flags and returns the function
	// that runs it with the positional arguments.
	flags func(fs *flag.FlagSet) func(ctx context.Context, m *Main, g *globals, args []string) error
}

// commands lists the public subcommands, in the order --help shows them.
func commands() []*command {
	return []*command{
		appendCmd, readCmd, tailCmd, streamsCmd, streamCmd, kvCmd, blobCmd,
		statCmd, verifyCmd, compactCmd, exportCmd, importCmd, migrateCmd, dumpCmd, benchCmd, crashtestCmd, serveCmd, versionCmd,
		completionCmd,
	}
}

func findCommand(name string) *command {
	for _, c := range commands() {
		if c.name == name {
			return c
		}
	}
	return nil
}

// UsageError is a command line that does not make sense: an unknown
// subcommand or flag, a missing or malformed argument. The command exits
// with status 2 on it.
type UsageError struct {
	Cmd string // the subcommand, such as "append" or "kv put"; empty for the top level
	Msg string
}

func (e *UsageError) Error() string {
	if e.Cmd == "" {
		return e.Msg
	}
	return e.Cmd + ": " + e.Msg
}

func usagef(cmd, format string, args ...any) error {
	return &UsageError{Cmd: cmd, Msg: fmt.Sprintf(format, args...)}
}

// errHelp is returned after --help printed the usage: the command succeeded.
var errHelp = errors.New("help printed")

// Run runs the command line args (without the program name).
func (m *Main) Run(ctx context.Context, args []string) error {
	err := m.run(ctx, args)
	if errors.Is(err, errHelp) {
		return nil
	}
	return err
}

func (m *Main) run(ctx context.Context, args []string) error {
	if isCompleteRequest(args) {
		return m.complete(ctx, args)
	}
	g := m.defaultGlobals()
	fs := flag.NewFlagSet("persist", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	g.register(fs)
	version := fs.Bool("version", false, "print the version")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			m.topUsage(m.Stdout)
			return errHelp
		}
		return usagef("", "%s", flagError(err))
	}
	g.noteSet(fs)
	rest := fs.Args()
	if *version {
		if len(rest) > 0 {
			return usagef("", "--version takes no subcommand")
		}
		if err := g.check("", false); err != nil {
			return err
		}
		return writeOne(m, &g, versionRecord())
	}
	if len(rest) == 0 {
		return usagef("", "no subcommand (see persist --help)")
	}
	name := rest[0]
	if name == "help" {
		if len(rest) > 1 {
			if c := findCommand(rest[1]); c != nil {
				if len(c.sub) > 0 {
					m.groupUsage(m.Stdout, c)
				} else {
					m.cmdUsage(m.Stdout, c.name, c, nil)
				}
				return errHelp
			}
			return usagef("", "unknown subcommand %q (see persist --help)", rest[1])
		}
		m.topUsage(m.Stdout)
		return errHelp
	}
	if c := findCommand(name); c != nil {
		return m.runCommand(ctx, c, name, &g, rest[1:])
	}
	return usagef("", "unknown subcommand %q (see persist --help)", name)
}

// runCommand parses the flags of c, which may come before, between or after
// its positional arguments, and runs it.
func (m *Main) runCommand(ctx context.Context, c *command, label string, g *globals, args []string) error {
	if len(c.sub) > 0 {
		if len(args) == 0 {
			return usagef(label, "no subcommand (see persist %s --help)", label)
		}
		switch args[0] {
		case "-h", "-help", "--help", "help":
			m.groupUsage(m.Stdout, c)
			return errHelp
		}
		for _, s := range c.sub {
			if s.name == args[0] {
				return m.runCommand(ctx, s, label+" "+s.name, g, args[1:])
			}
		}
		return usagef(label, "unknown subcommand %q (see persist %s --help)", args[0], label)
	}
	fs := flag.NewFlagSet("persist "+label, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	g.register(fs)
	if c.writes {
		g.registerLockWait(fs)
	}
	run := c.flags(fs)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			m.cmdUsage(m.Stdout, label, c, fs)
			return errHelp
		}
		return usagef(label, "%s", flagError(err))
	}
	g.noteSet(fs)
	if err := g.check(label, c.writes); err != nil {
		return err
	}
	if c.fileOnly != "" && g.kind != onDir {
		return usagef(label, "%s: %s", g.backendFlag(), c.fileOnly)
	}
	return run(ctx, m, g, pos)
}

// parseInterspersed parses fs from args, letting flags follow positional
// arguments; "--" ends the flags.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

func (m *Main) topUsage(w io.Writer) {
	fmt.Fprint(w, `persist is a durable event log and key-value store on one data directory.

Usage:
  persist [--dir DIR | --pg DSN | --server URL] [-o sx|json|table] SUBCOMMAND [ARGS]

Subcommands:
`)
	cs := commands()
	width := 0
	for _, c := range cs {
		width = max(width, len(c.name))
	}
	for _, c := range cs {
		fmt.Fprintf(w, "  %-*s  %s\n", width, c.name, c.summary)
	}
	fmt.Fprint(w, `
Exit status: 0 done; 1 an error (IO, damage, a missing store or key);
2 a command line that does not make sense; 3 a conflict: an --expect the
store refused, nothing written; 4 busy: another process held the store for
writing longer than --lock-wait; 5 a reused event ID: an --id already
stored in the stream for another event, nothing written (a retry of the
whole stored append with the same IDs succeeds instead).

Global flags (before or after the subcommand):
  --dir DIR   data directory (env PERSIST_DIR, default ./persist-data)
  --pg DSN    the PostgreSQL store at DSN instead (env PERSIST_PG), in
              --pg-schema SCHEMA (env PERSIST_PG_SCHEMA, default persist)
  --server URL
              the store a "persist serve" at URL serves (env
              PERSIST_SERVER), sending --token TOKEN (env PERSIST_TOKEN)
  -o FORMAT   output: sx (SX notation, the default), json (JSON lines) or
              table (columns under a header)

  At most one of --dir, --pg and --server may be given. Without any, the
  environment decides: PERSIST_SERVER if set, else PERSIST_PG, else the
  directory. A flag on the command line always wins over the environment.
  The commands that read or write events and keys work the same on every
  store; verify, dump, bench and crashtest work on a directory only, and
  stat shows the file figures for a directory only.

  persist --version prints the version, as persist version does.

Run 'persist SUBCOMMAND --help' for the arguments and an example.
`)
}

func (m *Main) groupUsage(w io.Writer, c *command) {
	fmt.Fprintf(w, "Usage: persist %s SUBCOMMAND [ARGS]\n\n%s\n\nSubcommands:\n", c.name, c.summary)
	for _, s := range c.sub {
		fmt.Fprintf(w, "  %s %s %s\n      %s\n", c.name, s.name, s.args, s.summary)
	}
	fmt.Fprintf(w, "\nExample:\n%s\n", c.example)
}

func (m *Main) cmdUsage(w io.Writer, label string, c *command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: persist %s %s\n\n%s\n", label, c.args, c.summary)
	if c.detail != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(c.detail))
	}
	if fs == nil {
		fs = flag.NewFlagSet(c.name, flag.ContinueOnError)
		g := m.defaultGlobals()
		g.register(fs)
		if c.writes {
			g.registerLockWait(fs)
		}
		c.flags(fs)
	}
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	sort.Strings(names)
	fmt.Fprintf(w, "\nFlags:\n")
	for _, n := range names {
		f := fs.Lookup(n)
		dash := "--"
		if len(n) == 1 {
			dash = "-"
		}
		arg, usage := flag.UnquoteUsage(f)
		if arg != "" {
			arg = " " + arg
		}
		def := ""
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "[]" {
			def = fmt.Sprintf(" (default %s)", f.DefValue)
		}
		fmt.Fprintf(w, "  %s%s%s\n      %s%s\n", dash, n, arg, usage, def)
	}
	fmt.Fprintf(w, "\nExample:\n%s\n", c.example)
}

// Exit statuses. A script can branch on them: a conflict means the store
// holds something other than expected (read and decide again), a busy store
// that another writer held it for all of --lock-wait (try again later).
const (
	exitOK       = 0
	exitError    = 1 // any other error: IO, damage, a missing store or key
	exitUsage    = 2 // a command line that does not make sense
	exitConflict = 3 // an expectation (--expect) that the store refused
	exitBusy     = 4 // another process held the store for writing too long
	exitDupID    = 5 // an event ID already stored for another event
)

// ExitCode prints err as one line on stderr and gives the exit status:
// exitOK for nil, exitUsage for a usage error, exitConflict for a conflict
// (ops.ErrConflict), exitDupID for a reused event ID (ops.ErrDuplicateID),
// exitBusy when the lock was not got in time
// (platform.ErrLocked), exitError for any other error.
func (m *Main) ExitCode(err error) int {
	if err == nil {
		return exitOK
	}
	msg := err.Error()
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	// Errors of the store already name it ("persist: conflict ...",
	// "persist/append: invalid ..."); say "persist:" once.
	msg = strings.TrimPrefix(msg, "persist: ")
	msg = strings.TrimPrefix(msg, "persist/")
	fmt.Fprintf(m.Stderr, "persist: %s\n", msg)
	var ue *UsageError
	switch {
	case errors.As(err, &ue):
		return exitUsage
	case errors.Is(err, ops.ErrDuplicateID):
		return exitDupID
	case errors.Is(err, ops.ErrConflict):
		return exitConflict
	case errors.Is(err, platform.ErrLocked):
		return exitBusy
	}
	return exitError
}

// open opens the store named by g. A command that writes (create set) opens
// it for writing, creating it when absent. A command that only reads opens
// it read-only (file.OpenReadOnly): without the lock, beside a process that
// has it open for writing, and a missing data directory, or one that holds
// no store, is an error rather than a new, empty store.
func (m *Main) open(ctx context.Context, g *globals, create bool) (ops.Backend, error) {
	switch g.kind {
	case onPG:
		return m.openPG(ctx, g)
	case onServer:
		return openServer(g)
	}
	if err := requireDir(g.dir); err != nil && !(create && errors.Is(err, errNoDir)) {
		return nil, err
	}
	var b ops.Backend
	var err error
	opts := file.Options{SegmentSize: g.segmentSize}
	switch {
	case m.Open != nil:
		b, err = m.Open(ctx, g.dir, create)
	case !create:
		b, err = openFileReadOnly(ctx, g.dir, opts, m.getenv)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("open %s: %w", g.dir, errNoStore)
		}
	default:
		b, err = m.openWriter(ctx, g, opts)
	}
	if errors.Is(err, platform.ErrLocked) {
		return nil, fmt.Errorf("open %s: %w", g.dir, err)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", g.dir, err)
	}
	if f, ok := b.(*fileStore); ok {
		if t := f.store.Recovery().Truncated; t != nil {
			// Say so once, when it happens: later opens have nothing to report.
			fmt.Fprintf(m.Stderr, "persist: recovery cut a torn tail of %d bytes from %s at offset %d (copy kept in %s)\n",
				t.Bytes, t.File, t.Offset, t.KeptIn)
		}
	}
	return b, nil
}
