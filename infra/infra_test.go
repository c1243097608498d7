// Package infra holds the Bicep that deploys spool; this test checks, as text (no
// Bicep compiler runs here), that the parameters and resources the README and the
// handler rely on are declared, and that the file's brackets balance.
package infra

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

func readBicep(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile("main.bicep")
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

func TestTheBicepDeclaresWhatSpoolReliesOn(t *testing.T) {
	bicep := readBicep(t)
	for _, want := range []string{
		// Hosting: Flex by default, EP1 as the fallback, a bounded scale-out.
		"@allowed(['flex', 'ep1'])\nparam plan string = 'flex'",
		"@maxValue(1000)\nparam maximumInstanceCount int = 40",
		"tier: 'FlexConsumption'", "name: 'FC1'", "tier: 'ElasticPremium'", "name: 'EP1'",
		"maximumInstanceCount: instanceLimit", "maximumElasticWorkerCount: isFlex ? null : instanceLimit",
		"functionAppScaleLimit: isFlex ? null : instanceLimit",
		"name: 'custom'", "name: 'FUNCTIONS_WORKER_RUNTIME'",
		// Telemetry: workspace-based, Entra-only ingestion, the identity may publish.
		"resource workspace 'Microsoft.OperationalInsights/workspaces@",
		"resource appInsights 'Microsoft.Insights/components@",
		"WorkspaceResourceId: workspace.id", "DisableLocalAuth: true",
		"monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'",
		"scope: appInsights", "roles.monitoringMetricsPublisher",
		"name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'\n    value: appInsights.properties.ConnectionString",
		"name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING'\n    value: 'Authorization=AAD'",
		// Storage through the identity only.
		"allowSharedKeyAccess: false", "type: 'SystemAssigned'",
		"name: 'SPOOL_STORAGE_ACCOUNT'", "name: 'AzureWebJobsStorage__accountName'",
	} {
		if !strings.Contains(bicep, want) {
			t.Errorf("main.bicep lacks %q", want)
		}
	}
	if regexp.MustCompile(`AccountKey|listKeys\(|InstrumentationKey=`).MatchString(bicep) {
		t.Error("main.bicep uses a key where the identity should be used")
	}
}

// TestTheBicepBracketsBalance catches the slip a compiler would: brackets are
// counted outside strings and comments.
func TestTheBicepBracketsBalance(t *testing.T) {
	var stack []rune
	pairs := map[rune]rune{')': '(', ']': '[', '}': '{'}
	for n, line := range strings.Split(readBicep(t), "\n") {
		inString := false
		runes := []rune(line)
		for i := 0; i < len(runes); i++ {
			c := runes[i]
			switch {
			case inString && c == '\\':
				i++
			case c == '\'':
				inString = !inString
			case inString:
			case c == '/' && i+1 < len(runes) && runes[i+1] == '/':
				i = len(runes)
			case c == '(' || c == '[' || c == '{':
				stack = append(stack, c)
			case pairs[c] != 0:
				if len(stack) == 0 || stack[len(stack)-1] != pairs[c] {
					t.Fatalf("line %d: unbalanced %q", n+1, c)
				}
				stack = stack[:len(stack)-1]
			}
		}
		if inString {
			t.Errorf("line %d: unterminated string", n+1)
		}
	}
	if len(stack) != 0 {
		t.Errorf("unclosed %q at the end", string(stack))
	}
}

func TestTheParamFileSetsOnlyDeclaredParameters(t *testing.T) {
	bicep := readBicep(t)
	raw, err := os.ReadFile("main.bicepparam")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`(?m)^param (\w+) =`).FindAllStringSubmatch(string(raw), -1) {
		if !regexp.MustCompile(`(?m)^param ` + m[1] + ` `).MatchString(bicep) {
			t.Errorf("main.bicepparam sets %s, which main.bicep does not declare", m[1])
		}
	}
}

func TestTheStagedHandlerIsStrippedAndTrimmed(t *testing.T) {
	raw, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`go build -trimpath -ldflags '-s -w[^']*'[^\n]*\$\(STAGE_DIR\)/handler`).MatchString(strings.ReplaceAll(string(raw), "$(GO)", "go")) {
		t.Error("make stage does not build the handler with -trimpath -ldflags '-s -w'")
	}
}
