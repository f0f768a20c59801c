// graceful-e2e: the same net/http server as images/go, plus what makes it graceful: signal.Notify
// for SIGTERM (and SIGINT), then Server.Shutdown, which closes the listener, closes idle
// connections, answers the requests in flight (with Connection: close) and returns when they are
// done or the drain timeout (DRAIN_TIMEOUT_MS, default 20000) has passed.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
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
	drain := 20 * time.Second
	if v, err := strconv.Atoi(os.Getenv("DRAIN_TIMEOUT_MS")); err == nil && v >= 0 {
		drain = time.Duration(v) * time.Millisecond
	}
	srv := &http.Server{Addr: ":" + port, Handler: mux}

	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	done := make(chan struct{})
	go func() {
		sig := <-signals
		log.Printf("received %v, shutting down (drain timeout %v)", sig, drain)
		ctx, cancel := context.WithTimeout(context.Background(), drain)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			log.Printf("shutdown: %v", err)
		}
		close(done)
	}()

	log.Printf("pid %d listening on :%s", os.Getpid(), port)
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
	// ListenAndServe returns as soon as Shutdown closed the listener: wait for the drain.
	<-done
	log.Printf("drained, exit 0")
}
