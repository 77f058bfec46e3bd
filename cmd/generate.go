package cmd

// The completion scripts under completions/ are what `raftctl completion`
// prints; TestCompletionScriptsUpToDate fails when they are stale.
// Regenerate them with: go generate ./cmd/

//go:generate go run .. completion bash --output ../completions/raftctl.bash
//go:generate go run .. completion zsh --output ../completions/_raftctl
//go:generate go run .. completion fish --output ../completions/raftctl.fish
//go:generate go run .. completion powershell --output ../completions/raftctl.ps1
