package funchost

import "strings"

// match reports whether path (escaped, as sent) fits template ("/api/buffers/{id}")
// and how many segments matched literally: the host's router prefers a literal
// segment over a parameter, so buffers/count wins over buffers/{id}. A parameter
// takes one non-empty segment; "{*name}" takes the rest. Segments compare
// case-insensitively, as ASP.NET routing does.
func match(template, path string) (literals int, ok bool) {
	want := strings.Split(strings.Trim(template, "/"), "/")
	got := strings.Split(strings.Trim(path, "/"), "/")
	for i, seg := range want {
		if strings.HasPrefix(seg, "{*") {
			return literals, i < len(got)
		}
		if i >= len(got) || got[i] == "" {
			return 0, false
		}
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
			continue
		}
		if !strings.EqualFold(seg, got[i]) {
			return 0, false
		}
		literals++
	}
	return literals, len(got) == len(want)
}

// find returns the function serving method on path: the best match among the
// routes declaring method. A path that only other methods serve is not found:
// the host answers a wrong method with 404, not 405
// (Azure/azure-functions-host issue 10098).
func (a *App) find(method, path string) (Route, bool) {
	best, bestLiterals, found := Route{}, -1, false
	for _, r := range a.Routes() {
		if r.Method != method {
			continue
		}
		if n, ok := match(r.Template, path); ok && n > bestLiterals {
			best, bestLiterals, found = r, n, true
		}
	}
	return best, found
}
