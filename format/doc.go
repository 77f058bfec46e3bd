// Package format renders raftctl's results for humans and for programs.
//
// The output mode is chosen by -o table|plain|json|jsonl (see [Mode]); an
// empty or "auto" mode is resolved once with [Resolve]: an aligned table on a
// terminal, tab-separated lines in a pipe. Colour is decided once by
// [NewScheme] from --color, NO_COLOR and the terminal, and [Scheme.For] turns
// it off for every mode but the table, so plain, JSON and JSONL output never
// carry escape sequences.
//
// JSON is an API: callers pass their own structs with json tags (and a
// schema_version) to [WriteJSON] or a [JSONLWriter]; [Table] is only for the
// table and plain modes.
//
// The package reads no environment variables and never writes to os.Stdout
// on its own: every renderer takes an io.Writer, and facts about the terminal
// are parameters.
package format
