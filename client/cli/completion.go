package cli

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/pflag"
)

// Completion scripts are generated from the command table (commands,
// topLevelCommands and each command's flag set), so a new command or flag is
// completed without touching this file. Each script finds the command typed so
// far the same way: it walks the words, skips flags (and the value of a flag that
// takes one) and extends the command while the longer one exists; then it offers
// that command's subcommands, or its flags for a word starting with "-".

// completionNode is one command path ("" for spool itself, "buffer", "buffer write",
// "login status") with what may follow it.
type completionNode struct {
	path  string
	words []string // subcommands
	flags []string // --long and -s spellings
}

// completionTable lists every command path, and every flag spelling that takes a
// value (so its value is not mistaken for a command).
func (a *app) completionTable() (nodes []completionNode, valued []string) {
	top := completionNode{words: []string{"buffer", "buffers", "help"}}
	login := completionNode{path: "login"}
	buffer := completionNode{path: "buffer", words: []string{"help"}}
	var fsTop pflag.FlagSet
	var quiet bool
	var s string
	serverURLFlag(&fsTop, &s)
	globalFlags(&fsTop, &quiet, &s)
	fsTop.Bool("version", false, "")
	top.flags, valued = flagSpellings(&fsTop)
	for _, cmd := range append(commands(), topLevelCommands()...) {
		node := completionNode{path: cmd.path()}
		node.flags, valued = flagSpellings(a.commandFlags(cmd).fs, valued...)
		switch {
		case !cmd.topLevel:
			buffer.words = append(buffer.words, cmd.name)
		case cmd.name == "login":
			login.flags = node.flags
			continue
		case strings.HasPrefix(cmd.name, "login "):
			login.words = append(login.words, strings.TrimPrefix(cmd.name, "login "))
		default:
			top.words = append(top.words, cmd.name)
		}
		if cmd.name == "completion" {
			node.words = completionShells
		}
		nodes = append(nodes, node)
	}
	top.words = append(top.words, "login")
	nodes = append([]completionNode{top, buffer, login}, nodes...)
	for _, n := range slices.Clone(nodes) {
		if strings.HasPrefix(n.path, "buffer") {
			n.path = "buffers" + strings.TrimPrefix(n.path, "buffer")
			nodes = append(nodes, n)
		}
	}
	slices.Sort(valued)
	return nodes, slices.Compact(valued)
}

// flagSpellings lists a flag set's spellings, with --help, and adds those that
// take a value to valued.
func flagSpellings(fs *pflag.FlagSet, valued ...string) (spellings, valuedOut []string) {
	spellings = []string{"--help", "-h"}
	fs.VisitAll(func(f *pflag.Flag) {
		names := []string{"--" + f.Name}
		if f.Shorthand != "" {
			names = append(names, "-"+f.Shorthand)
		}
		spellings = append(spellings, names...)
		if f.NoOptDefVal == "" {
			valued = append(valued, names...)
		}
	})
	return spellings, valued
}

var completionShells = []string{"bash", "zsh", "fish"}

func completionCommand() command {
	return command{
		name:     "completion",
		topLevel: true,
		args:     "bash|zsh|fish",
		summary:  "print a shell completion script (bash, zsh or fish)",
		about: `Prints a script that completes spool's commands, subcommands and flags in the
given shell. Load it in the shell's startup file, as the examples show.`,
		example: `  echo 'source <(spool completion bash)' >> ~/.bashrc
  echo 'source <(spool completion zsh)' >> ~/.zshrc    # after compinit
  spool completion fish > ~/.config/fish/completions/spool.fish`,
		flags: func(a *app, fs *pflag.FlagSet) func(context.Context, []string) error {
			return func(ctx context.Context, args []string) error {
				if err := wantArgs(args, 1, "the shell: bash, zsh or fish"); err != nil {
					return err
				}
				nodes, valued := a.completionTable()
				switch args[0] {
				case "bash":
					return writeBashCompletion(a.stdout, nodes, valued)
				case "zsh":
					return writeZshCompletion(a.stdout, nodes, valued)
				case "fish":
					return writeFishCompletion(a.stdout, nodes, valued)
				}
				return usagef("", "unknown shell %q: bash, zsh or fish", args[0])
			}
		},
	}
}

// shellCases renders one `case` arm per node for bash and zsh: the node's path, and
// what of it the function echoes.
func shellCases(nodes []completionNode, pick func(completionNode) []string) string {
	var b strings.Builder
	for _, n := range nodes {
		fmt.Fprintf(&b, "\t%q) echo %q ;;\n", n.path, strings.Join(pick(n), " "))
	}
	return b.String()
}

func nodeWords(n completionNode) []string { return n.words }
func nodeFlags(n completionNode) []string { return n.flags }
func nodePaths(nodes []completionNode) []string {
	paths := make([]string, 0, len(nodes))
	for _, n := range nodes {
		paths = append(paths, n.path)
	}
	return paths
}

// shellHelpers are the functions the bash and zsh scripts share: they differ only
// in how they read the words and offer the candidates.
func shellHelpers(nodes []completionNode, valued []string) string {
	return fmt.Sprintf(`_spool_words() {
	case "$1" in
%s	esac
}

_spool_flags() {
	case "$1" in
%s	esac
}

_spool_valued=" %s "
_spool_paths="|%s|"

# _spool_path prints the command the words before the cursor name.
_spool_path() {
	local cmdpath="" w skip=0
	for w in "$@"; do
		if ((skip)); then skip=0; continue; fi
		case "$w" in
		--*=*) ;;
		-*) [[ "$_spool_valued" == *" $w "* ]] && skip=1 ;;
		*) [[ "$_spool_paths" == *"|${cmdpath:+$cmdpath }$w|"* ]] && cmdpath="${cmdpath:+$cmdpath }$w" ;;
		esac
	done
	echo "$cmdpath"
}
`, shellCases(nodes, nodeWords), shellCases(nodes, nodeFlags), strings.Join(valued, " "), strings.Join(nodePaths(nodes), "|"))
}

func writeBashCompletion(w io.Writer, nodes []completionNode, valued []string) error {
	_, err := fmt.Fprintf(w, `# bash completion for spool: source <(spool completion bash)
%s
_spool() {
	local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}" cmdpath
	if [[ "$prev" == --log-level ]]; then
		COMPREPLY=($(compgen -W "debug info warn error" -- "$cur"))
		return
	fi
	if [[ "$cur" != -* && "$_spool_valued" == *" $prev "* ]]; then
		COMPREPLY=($(compgen -f -- "$cur"))
		return
	fi
	cmdpath="$(_spool_path "${COMP_WORDS[@]:1:COMP_CWORD-1}")"
	if [[ "$cur" == -* ]]; then
		COMPREPLY=($(compgen -W "$(_spool_flags "$cmdpath")" -- "$cur"))
		return
	fi
	local words="$(_spool_words "$cmdpath")"
	if [[ -n "$words" ]]; then
		COMPREPLY=($(compgen -W "$words" -- "$cur"))
	else
		COMPREPLY=($(compgen -f -- "$cur"))
	fi
}
complete -o default -F _spool spool
`, shellHelpers(nodes, valued))
	return err
}

func writeZshCompletion(w io.Writer, nodes []completionNode, valued []string) error {
	_, err := fmt.Fprintf(w, `#compdef spool
# zsh completion for spool: source <(spool completion zsh), after compinit.
# (No variable here is called path or words: zsh ties those to PATH and to the
# words being completed.)
%s
_spool() {
	local cur="${words[CURRENT]}" prev="${words[CURRENT-1]}" cmdpath
	if [[ "$prev" == --log-level ]]; then
		compadd -- debug info warn error
		return
	fi
	if [[ "$cur" != -* && "$_spool_valued" == *" $prev "* ]]; then
		_files
		return
	fi
	cmdpath="$(_spool_path "${(@)words[2,CURRENT-1]}")"
	if [[ "$cur" == -* ]]; then
		compadd -- ${=$(_spool_flags "$cmdpath")}
		return
	fi
	local subs="$(_spool_words "$cmdpath")"
	if [[ -n "$subs" ]]; then
		compadd -- ${=subs}
	else
		_files
	fi
}
compdef _spool spool
`, shellHelpers(nodes, valued))
	return err
}

// writeFishCompletion uses fish's own `complete`, one line per command path and
// flag, with a condition naming the path.
func writeFishCompletion(w io.Writer, nodes []completionNode, valued []string) error {
	var b strings.Builder
	fmt.Fprintf(&b, `# fish completion for spool: spool completion fish > ~/.config/fish/completions/spool.fish
set -g __spool_valued %s
set -g __spool_paths %s

function __spool_path
	set -l words (commandline -opc)
	set -e words[1]
	set -l cmdpath ""
	set -l skip 0
	for w in $words
		if test $skip = 1
			set skip 0
			continue
		end
		switch $w
			case '--*=*'
			case '-*'
				contains -- $w $__spool_valued; and set skip 1
			case '*'
				set -l next (string trim -- "$cmdpath $w")
				contains -- $next $__spool_paths; and set cmdpath $next
		end
	end
	echo $cmdpath
end

# __spool_at says whether the command typed so far is $argv[1].
function __spool_at
	set -l at (__spool_path)
	test "$at" = "$argv[1]"
end

complete -c spool -l log-level -x -a 'debug info warn error'
`, fishList(valued), fishList(nodePaths(nodes)))
	for _, n := range nodes {
		cond := fmt.Sprintf("-n %q", "__spool_at "+fishQuote(n.path))
		if len(n.words) > 0 {
			fmt.Fprintf(&b, "complete -c spool %s -f -a %s\n", cond, fishQuote(strings.Join(n.words, " ")))
		}
		for _, f := range n.flags {
			opt := "-l " + strings.TrimPrefix(f, "--")
			if !strings.HasPrefix(f, "--") {
				opt = "-s " + strings.TrimPrefix(f, "-")
			}
			if slices.Contains(valued, f) {
				opt += " -r"
			}
			fmt.Fprintf(&b, "complete -c spool %s %s\n", cond, opt)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func fishQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `\'`) + "'" }

func fishList(items []string) string {
	quoted := make([]string, len(items))
	for i, s := range items {
		quoted[i] = fishQuote(s)
	}
	return strings.Join(quoted, " ")
}
