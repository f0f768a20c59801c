// graceful-e2e: a plain net/http server as most tutorials write it: no signal handling at all.
// SIGTERM is then handled by the Go runtime's default: the process dies at once, requests in
// flight included (even as PID 1: see images/go/NOTE.md).
package main

import (
	"fmt"
	"log"
	"net/http"
	"os"
	"strconv"
	"time"
)

func main() {
	mux := http.NewServeMux()
	ok := func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" && r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, "ok\n")
	}
	mux.HandleFunc("/", ok)
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		ms, _ := strconv.Atoi(r.URL.Query().Get("ms"))
		if ms < 0 {
			ms = 0
		} else if ms > 600000 {
			ms = 600000
		}
		time.Sleep(time.Duration(ms) * time.Millisecond)
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "slept %dms\n", ms)
	})
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	log.Printf("pid %d listening on :%s", os.Getpid(), port)
	log.Fatal(http.ListenAndServe(":"+port, mux))
}
