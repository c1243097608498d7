package handler

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"spool/internal/model"
)

// benchAPI serves the API over plain Azurite wired as cmd/handler wires it, so the
// rates include HTTP, JSON, the container create and the table writes.
func benchAPI(b *testing.B) string {
	b.Helper()
	in := plainAzurite.get(b)
	opts := liveOptions(b, in.ConnectionString(), uniquePrefix())
	h, err := New(opts)
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(h)
	b.Cleanup(srv.Close)
	return srv.URL + "/api"
}

func benchDo(b *testing.B, method, url, body string, want int) []byte {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	setHeaders(req, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		b.Fatalf("%s %s: %d %s", method, url, resp.StatusCode, out)
	}
	return out
}

func benchCreate(b *testing.B, base string) model.Buffer {
	var buf model.Buffer
	if err := json.NewDecoder(bytes.NewReader(benchDo(b, http.MethodPost, base+"/buffers", `{"tags":{"bench":"api"}}`, 201))).Decode(&buf); err != nil {
		b.Fatal(err)
	}
	return buf
}

// Parallel clients, since one Azurite Node thread is the limit, not the handler.
func BenchmarkAPICreate(b *testing.B) {
	base := benchAPI(b)
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			benchCreate(b, base)
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "creates/s")
}

func BenchmarkAPIShow(b *testing.B) {
	base := benchAPI(b)
	id := benchCreate(b, base).ID
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			benchDo(b, http.MethodGet, base+"/buffers/"+id, "", 200)
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "shows/s")
}

func BenchmarkAPISet(b *testing.B) {
	base := benchAPI(b)
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		// One buffer per client: this measures the rate, not contention on one record.
		id := benchCreate(b, base).ID
		for pb.Next() {
			benchDo(b, http.MethodPut, base+"/buffers/"+id, `{"tags":{"bench":"set"}}`, 200)
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sets/s")
}
