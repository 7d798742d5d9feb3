// The Go peer of bench/run.sh: the net/http/fcgi "insert, then hand the rest to a worker pool" pattern a Go
// team would write instead of orderd. Standard library only (no module downloads); SQLite through cgo against
// the system libsqlite3, since no Go SQLite driver is available offline.
//
//	go-responder -s SOCKET -d DB_PATH [-m normal|full] [-workers 5] [-queue 100] [-followup-us 0]
//
// POST /orders: parse the JSON, check the required fields, insert one row (WAL, its own transaction) on the
// request goroutine, answer 201 {"id":N,"status":"created"}, then offer the follow-up to a buffered channel
// drained by the workers with a non-blocking send: when the channel is full the follow-up is dropped, and
// whatever is still queued at exit is lost. That is the well-known pattern's contract (bounded, drops), and
// the reason the counts are printed on exit: bench/run.sh reads the "follow-ups:" line from stderr.
// GET /healthz: 200 {"status":"ok"}. SIGTERM/SIGINT: stop, print the counts, exit 0 without draining.
package main

/*
#cgo LDFLAGS: -lsqlite3
#include <sqlite3.h>
#include <stdlib.h>
// SQLITE_TRANSIENT is a cast macro cgo cannot express: SQLite copies the bytes before bind returns.
static int bind_text_copy(sqlite3_stmt *s, int i, const void *p, int n) { return sqlite3_bind_text(s, i, p, n, SQLITE_TRANSIENT); }
*/
import "C"

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/fcgi"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

type order struct {
	Customer struct{ Phone string } `json:"customer"`
	Currency string                 `json:"currency"`
	Items    []struct {
		SKU            string `json:"sku"`
		Quantity       int    `json:"quantity"`
		UnitPriceCents int    `json:"unit_price_cents"`
	} `json:"items"`
}

var (
	db                       *C.sqlite3
	insert                   *C.sqlite3_stmt
	dbMu                     sync.Mutex // one writer, like the C responder's mutex
	followups                chan int64
	submitted, done, dropped atomic.Int64
	followupDelay            time.Duration
)

func fail(what string) { fmt.Fprintln(os.Stderr, "go-responder:", what); os.Exit(1) }

func reply(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(status)
	io.WriteString(w, body)
}

func postOrder(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10+1))
	if err != nil || len(body) == 0 || len(body) > 64<<10 {
		reply(w, 400, `{"error":{"code":"bad_body","message":"an order body of at most 64k is required"}}`)
		return
	}
	var o order
	if json.Unmarshal(body, &o) != nil {
		reply(w, 400, `{"error":{"code":"invalid_json","message":"the body is not JSON"}}`)
		return
	}
	valid := o.Customer.Phone != "" && len(o.Currency) == 3 && len(o.Items) > 0
	for _, it := range o.Items {
		valid = valid && it.SKU != "" && it.Quantity > 0 && it.UnitPriceCents >= 0
	}
	if !valid {
		reply(w, 422, `{"error":{"code":"invalid_order","message":"customer.phone, currency and items are required"}}`)
		return
	}
	dbMu.Lock()
	C.bind_text_copy(insert, 1, unsafe.Pointer(&body[0]), C.int(len(body)))
	C.sqlite3_bind_int64(insert, 2, C.sqlite3_int64(time.Now().UnixMilli()))
	rc := C.sqlite3_step(insert)
	id := int64(C.sqlite3_last_insert_rowid(db))
	C.sqlite3_reset(insert)
	dbMu.Unlock()
	if rc != C.SQLITE_DONE {
		reply(w, 500, `{"error":{"code":"store_failed","message":"insert failed"}}`)
		return
	}
	reply(w, 201, fmt.Sprintf(`{"id":%d,"status":"created"}`, id))
	submitted.Add(1)
	select { // the pattern: bounded, never blocks the request, drops when full
	case followups <- id:
	default:
		dropped.Add(1)
	}
}

func handle(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/healthz" && (r.Method == "GET" || r.Method == "HEAD"):
		reply(w, 200, `{"status":"ok"}`)
	case r.URL.Path == "/orders" && r.Method == "POST":
		postOrder(w, r)
	default:
		reply(w, 404, `{"error":{"code":"not_found","message":"no such route"}}`)
	}
}

func exec(sql string) {
	s := C.CString(sql)
	defer C.free(unsafe.Pointer(s))
	if C.sqlite3_exec(db, s, nil, nil, nil) != C.SQLITE_OK {
		fail("sqlite: " + C.GoString(C.sqlite3_errmsg(db)) + ": " + sql)
	}
}

func main() {
	sock := flag.String("s", "", "unix socket to listen on (mode 0660)")
	path := flag.String("d", "", "SQLite database path")
	mode := flag.String("m", envOr("GO_RESPONDER_SYNC", "normal"), "PRAGMA synchronous: normal or full (env GO_RESPONDER_SYNC)")
	workers := flag.Int("workers", 5, "follow-up worker goroutines")
	queue := flag.Int("queue", 100, "follow-up channel capacity")
	flag.DurationVar(&followupDelay, "followup", 0, "time each follow-up takes (a sleep; 0: trivial work)")
	flag.Parse()
	if *sock == "" || *path == "" || (*mode != "normal" && *mode != "full") {
		fail("usage: go-responder -s SOCKET -d DB_PATH [-m normal|full] [-workers N] [-queue N] [-followup DURATION]")
	}
	cpath := C.CString(*path)
	if C.sqlite3_open_v2(cpath, &db, C.SQLITE_OPEN_READWRITE|C.SQLITE_OPEN_CREATE|C.SQLITE_OPEN_NOMUTEX, nil) != C.SQLITE_OK {
		fail("cannot open " + *path)
	}
	exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=" + *mode + "; PRAGMA busy_timeout=5000;" +
		"CREATE TABLE IF NOT EXISTS orders(id INTEGER PRIMARY KEY, body TEXT NOT NULL, created_at INTEGER NOT NULL)")
	csql := C.CString("INSERT INTO orders(body, created_at) VALUES(?, ?)")
	if C.sqlite3_prepare_v2(db, csql, -1, &insert, nil) != C.SQLITE_OK {
		fail("cannot prepare the insert")
	}

	followups = make(chan int64, *queue)
	for i := 0; i < *workers; i++ {
		go func() {
			for range followups {
				if followupDelay > 0 {
					time.Sleep(followupDelay)
				}
				done.Add(1)
			}
		}()
	}

	os.Remove(*sock)
	old := syscall.Umask(0o117) // the socket comes out 0660
	l, err := net.Listen("unix", *sock)
	syscall.Umask(old)
	if err != nil {
		fail(err.Error())
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() { <-stop; l.Close() }()
	fmt.Fprintf(os.Stderr, "go-responder: %s (synchronous=%s), %d follow-up workers, queue %d\n", *path, *mode, *workers, *queue)
	fcgi.Serve(l, http.HandlerFunc(handle)) // returns once the listener is closed
	fmt.Fprintf(os.Stderr, "go-responder: follow-ups: submitted %d done %d dropped %d lost-at-exit %d\n",
		submitted.Load(), done.Load(), dropped.Load(), len(followups))
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
