package cli

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"

	"spool/internal/redact"
)

func TestVersionIsPrintedByTheFlagAndTheCommand(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"version"}} {
		r := runCLI(t, "", args...)
		if r.code != exitOK || r.stdout != "spool "+Version()+"\n" || r.stderr != "" || Version() == "" {
			t.Errorf("%v: %+v", args, r)
		}
	}
	if r := runCLI(t, "", "version", "extra"); r.code != exitUsage || !strings.Contains(r.stderr, "Run 'spool version --help' for usage.") {
		t.Errorf("version with an argument: %+v", r)
	}
}

func TestVersionComesFromTheStampElseTheBuildInfo(t *testing.T) {
	for _, tc := range []struct {
		name string
		info debug.BuildInfo
		want string
	}{
		{"a module version", debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}}, "v1.2.3"},
		{"a clean checkout", debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.modified", Value: "false"}}}, "dev-0123456789ab"},
		{"a changed checkout", debug.BuildInfo{Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc"}, {Key: "vcs.modified", Value: "true"}}}, "dev-abc-dirty"},
		{"nothing known", debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "dev"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := versionFromBuildInfo(&tc.info); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestTheBinaryReportsTheVersionTheBuildStamps builds as the Makefile does.
func TestTheBinaryReportsTheVersionTheBuildStamps(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "spool")
	build := exec.Command("go", "build", "-ldflags", "-X spool/client/cli.stampedVersion=v9.8.7-test", "-o", bin, "spool/cmd/spool")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "--version").Output()
	if err != nil || string(out) != "spool v9.8.7-test\n" {
		t.Fatalf("--version: %q %v", out, err)
	}
}

func TestTopLevelHelpListsTheExitStatusesAndGlobalFlags(t *testing.T) {
	r := runCLI(t, "", "--help")
	for _, want := range []string{"0    success", "1    failure", "2    usage", "130  interrupted by SIGINT", "143  terminated by SIGTERM",
		"--quiet", "--log-level", "--version", "completion", "version"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("--help lacks %q", want)
		}
	}
}

func TestLogLevelAndQuietAreCheckedAsUsage(t *testing.T) {
	for _, args := range [][]string{
		{"--log-level", "loud", "buffer", "list"},
		{"buffer", "list", "--log-level", "loud"},
		{"--quiet", "--log-level", "debug", "buffer", "list"},
		{"-q", "buffer", "list", "--log-level", "info"},
	} {
		r := runCLI(t, "", args...)
		if r.code != exitUsage || !strings.Contains(r.stderr, "--log-level") || !strings.Contains(r.stderr, "--help' for usage.") {
			t.Errorf("%v: %+v", args, r)
		}
	}
}

// TestBashCompletionCompletesCommandsSubcommandsAndFlags runs the script in bash,
// with the words a user would have typed.
func TestBashCompletionCompletesCommandsSubcommandsAndFlags(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	r := runCLI(t, "", "completion", "bash")
	if r.code != exitOK {
		t.Fatalf("completion bash: %+v", r)
	}
	script := filepath.Join(t.TempDir(), "spool.bash")
	if err := os.WriteFile(script, []byte(r.stdout), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ line, want string }{
		{"spool ", "buffer buffers help logout version completion login"},
		{"spool bu", "buffer buffers"},
		{"spool buffer wr", "write"},
		{"spool --server-url http://x buffers write ID --d", "--dop"},
		{"spool buffer read url.txt --o", "--output"},
		{"spool login ", "status"},
		{"spool login status --q", "--quiet"},
		{"spool completion ", "bash zsh fish"},
		{"spool -q --log-level ", "debug info warn error"},
		{"spool buffer delete --tag a=b --f", "--force"},
	} {
		complete := `source "$1"; read -ra COMP_WORDS <<< "$2"; [[ "$2" == *" " ]] && COMP_WORDS+=("");` +
			` COMP_CWORD=$((${#COMP_WORDS[@]}-1)); _spool; echo "${COMPREPLY[*]}"`
		out, err := exec.Command(bash, "-c", complete, "bash", script, tc.line).CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != tc.want {
			t.Errorf("%q: %q (%v), want %q", tc.line, out, err, tc.want)
		}
	}
}

// TestZshAndFishCompletionNameEveryCommandAndFlag: no zsh or fish here to run them,
// so this checks that each script holds every command and flag of the table.
func TestZshAndFishCompletionNameEveryCommandAndFlag(t *testing.T) {
	a := &app{}
	nodes, _ := a.completionTable()
	for _, shell := range []string{"zsh", "fish"} {
		r := runCLI(t, "", "completion", shell)
		if r.code != exitOK {
			t.Fatalf("completion %s: %+v", shell, r)
		}
		for _, n := range nodes {
			for _, f := range n.flags {
				spelled := map[string]string{"zsh": f, "fish": flagInFish(f)}[shell]
				if !strings.Contains(r.stdout, spelled) {
					t.Errorf("%s: %q lacks %q", shell, n.path, spelled)
				}
			}
			for _, w := range n.words {
				if !regexp.MustCompile(`\b` + w + `\b`).MatchString(r.stdout) {
					t.Errorf("%s: %q lacks %q", shell, n.path, w)
				}
			}
		}
	}
	if r := runCLI(t, "", "completion", "tcsh"); r.code != exitUsage || !strings.Contains(r.stderr, "bash, zsh or fish") {
		t.Errorf("an unknown shell: %+v", r)
	}
}

func flagInFish(f string) string {
	if long, ok := strings.CutPrefix(f, "--"); ok {
		return "-l " + long
	}
	return "-s " + strings.TrimPrefix(f, "-")
}

func TestQuietWriteAndReadPrintNothingOnStderr(t *testing.T) {
	liveServer(t)
	id := createBuffer(t)
	data := generated(t, 300<<10)
	input := filepath.Join(t.TempDir(), "in.bin")
	if err := os.WriteFile(input, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if r := runCLI(t, "", "--quiet", "buffer", "write", id, "-i", input, "-b", "64K"); r.code != exitOK || r.stderr != "" || r.stdout != "" {
		t.Fatalf("write --quiet: %+v", r)
	}
	r := runCLI(t, "", "buffer", "read", id, "-q")
	if r.code != exitOK || r.stderr != "" || r.stdout != string(data) {
		t.Fatalf("read -q: exit %d, stderr %q, %d bytes out", r.code, r.stderr, len(r.stdout))
	}
}

// TestDebugLogShowsEachRequestWithoutItsSecrets: the API's requests and the blob
// requests on their SAS URLs, each with its status, and never a signature.
func TestDebugLogShowsEachRequestWithoutItsSecrets(t *testing.T) {
	liveServer(t)
	id := createBuffer(t)
	r := runWithInput(context.Background(), strings.NewReader("hello"), "buffer", "write", id, "--log-level", "debug")
	if r.code != exitOK {
		t.Fatalf("write: %+v", r)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^spool: debug: POST http://\S+/buffers/` + id + `/access\?\S* 201 \(\d+ms\)$`),
		regexp.MustCompile(`(?m)^spool: debug: PUT http://\S+/` + id + `/\S+ 201 \(\d+ms\)$`),
		regexp.MustCompile(`(?m)^wrote 5 B in `),
	} {
		if !want.MatchString(r.stderr) {
			t.Errorf("stderr lacks %s:\n%s", want, r.stderr)
		}
	}
	if sigs := regexp.MustCompile(`sig=([^&\s]*)`).FindAllStringSubmatch(r.stderr, -1); len(sigs) == 0 {
		t.Errorf("no SAS URL logged:\n%s", r.stderr)
	} else {
		for _, s := range sigs {
			if s[1] != redact.Mask {
				t.Errorf("a signature in the log: %q", s[0])
			}
		}
	}
	if r := runCLI(t, "", "buffer", "read", id, "--log-level", "warn"); r.code != exitOK || r.stderr != "" || r.stdout != "hello" {
		t.Errorf("read at warn: %+v", r)
	}
}
