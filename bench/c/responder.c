/*
 * Baseline FastCGI responder for bench/run.sh: plain threaded libfcgi, the way libfcgi's
 * examples/threaded.c does it, so orderd can be compared with "what C + libfcgi does here".
 *
 *   responder [-t THREADS] [-s SOCKET] [-b BACKLOG] [-d DB_PATH -m full|normal]
 *
 *   -t THREADS  request threads (default 4), each owning one FCGX_Request.
 *   -s SOCKET   unix socket path to create (mode 0660). Without it the listening socket is fd 0
 *               (spawn-fcgi -s SOCKET -M 0660 -n -- responder ...; or systemd StandardInput=socket).
 *   -b BACKLOG  listen backlog with -s (default 1024).
 *   -d DB_PATH  enables POST /orders: one row per request in its own transaction, SQLite WAL, one
 *               shared connection behind a pthread mutex (a single writer).
 *   -m MODE     PRAGMA synchronous: full (default) or normal.
 *
 * Routes: GET /healthz -> 200 {"status":"ok"}; POST /orders (with -d) -> 201
 * {"id":N,"status":"created"}; anything else -> a JSON 404/405/413.
 * SIGTERM/SIGINT: stop accepting (shutdown() on the listening socket wakes the idle threads), let
 * in-flight requests finish, exit 0. libfcgi's own SIGTERM handler only sets a flag.
 *
 * Build: gcc -O2 -pthread -o bench/bin/responder bench/c/responder.c $(pkg-config --cflags --libs fcgi sqlite3)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcgiapp.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_BODY (64 * 1024)
#define MAX_THREADS 256

static int listen_fd = 0;
static pthread_mutex_t accept_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t db_mutex = PTHREAD_MUTEX_INITIALIZER;
static sqlite3 *db;
static sqlite3_stmt *insert_stmt;

static void fail(const char *what, const char *detail)
{
    fprintf(stderr, "responder: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    exit(1);
}

static void reply(FCGX_Request *req, const char *status, const char *body)
{
    /* snprintf, not FCGX_FPrintF: libfcgi's own printf knows no %zu. */
    char head[160];
    size_t blen = strlen(body);
    int hlen = snprintf(head, sizeof head, "Status: %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                        status, blen);
    FCGX_PutStr(head, hlen, req->out);
    FCGX_PutStr(body, (int)blen, req->out);
}

static void reply_error(FCGX_Request *req, const char *status, const char *code, const char *message)
{
    const char *rid = FCGX_GetParam("REQUEST_ID", req->envp);
    char body[512];
    snprintf(body, sizeof body, "{\"error\":{\"code\":\"%s\",\"message\":\"%s\",\"request_id\":\"%s\"}}",
             code, message, rid ? rid : "");
    reply(req, status, body);
}

static int64_t now_millis(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void post_order(FCGX_Request *req, char *buf)
{
    const char *cl = FCGX_GetParam("CONTENT_LENGTH", req->envp);
    long len = cl && *cl ? strtol(cl, NULL, 10) : 0;
    if (len <= 0) { reply_error(req, "400 Bad Request", "empty_body", "an order body is required"); return; }
    if (len > MAX_BODY) { reply_error(req, "413 Payload Too Large", "body_too_large", "body over 64k"); return; }
    int got = 0;
    while (got < len) {
        int n = FCGX_GetStr(buf + got, (int)(len - got), req->in);
        if (n <= 0) break;
        got += n;
    }
    if (got != len) { reply_error(req, "400 Bad Request", "short_body", "body shorter than Content-Length"); return; }

    /* One row per request; in autocommit mode the INSERT is its own transaction (one commit). */
    pthread_mutex_lock(&db_mutex);
    sqlite3_bind_text(insert_stmt, 1, buf, got, SQLITE_STATIC);
    sqlite3_bind_int64(insert_stmt, 2, now_millis());
    int rc = sqlite3_step(insert_stmt);
    sqlite3_int64 id = sqlite3_last_insert_rowid(db);
    sqlite3_reset(insert_stmt);
    sqlite3_clear_bindings(insert_stmt);
    pthread_mutex_unlock(&db_mutex);

    if (rc != SQLITE_DONE) { reply_error(req, "500 Internal Server Error", "store_failed", "insert failed"); return; }
    char body[96];
    snprintf(body, sizeof body, "{\"id\":%lld,\"status\":\"created\"}", (long long)id);
    reply(req, "201 Created", body);
}

static void handle(FCGX_Request *req, char *buf)
{
    const char *method = FCGX_GetParam("REQUEST_METHOD", req->envp);
    const char *uri = FCGX_GetParam("DOCUMENT_URI", req->envp);
    if (!uri) uri = FCGX_GetParam("REQUEST_URI", req->envp);
    if (!method || !uri) { reply_error(req, "400 Bad Request", "bad_request", "missing CGI params"); return; }
    size_t ulen = strcspn(uri, "?");

    if (ulen == 8 && strncmp(uri, "/healthz", 8) == 0) {
        if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0) reply(req, "200 OK", "{\"status\":\"ok\"}");
        else reply_error(req, "405 Method Not Allowed", "method_not_allowed", "use GET");
    } else if (db && ulen == 7 && strncmp(uri, "/orders", 7) == 0) {
        if (strcmp(method, "POST") == 0) post_order(req, buf);
        else reply_error(req, "405 Method Not Allowed", "method_not_allowed", "use POST");
    } else {
        reply_error(req, "404 Not Found", "not_found", "no such route");
    }
}

static void *worker(void *arg)
{
    (void)arg;
    char *buf = malloc(MAX_BODY);
    FCGX_Request *req = calloc(1, sizeof *req); /* heap: its streams point back into it */
    if (!buf || !req || FCGX_InitRequest(req, listen_fd, 0) != 0) fail("out of memory", NULL);
    for (;;) {
        /* Serialise accept() like threaded.c, but only when this thread has no kept connection
         * (fastcgi_keep_conn): a thread waiting for the next request on its kept connection must not
         * hold the accept lock, or every other thread would wait behind that idle connection too. */
        int locked = req->ipcFd < 0;
        if (locked) pthread_mutex_lock(&accept_mutex);
        int rc = FCGX_Accept_r(req);
        if (locked) pthread_mutex_unlock(&accept_mutex);
        if (rc < 0) break; /* -EINVAL after shutdown(listen_fd), or shutdown pending */
        handle(req, buf);
        FCGX_Finish_r(req);
    }
    FCGX_Free(req, 1);
    free(req);
    free(buf);
    return NULL;
}

static void open_db(const char *path, const char *mode)
{
    char *err = NULL;
    char sql[256];
    if (strcmp(mode, "full") != 0 && strcmp(mode, "normal") != 0) fail("-m must be full or normal", mode);
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
        fail("cannot open database", sqlite3_errmsg(db));
    /* WAL once, before any thread starts; then the per-connection synchronous level. */
    snprintf(sql, sizeof sql,
             "PRAGMA journal_mode=WAL; PRAGMA synchronous=%s; PRAGMA busy_timeout=5000;"
             "CREATE TABLE IF NOT EXISTS orders(id INTEGER PRIMARY KEY, body TEXT NOT NULL, created_at INTEGER NOT NULL);",
             mode);
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) fail("cannot set up database", err);
    if (sqlite3_prepare_v2(db, "INSERT INTO orders(body, created_at) VALUES(?, ?)", -1, &insert_stmt, NULL) != SQLITE_OK)
        fail("cannot prepare insert", sqlite3_errmsg(db));
}

int main(int argc, char **argv)
{
    int threads = 4, backlog = 1024, opt;
    const char *socket_path = NULL, *db_path = NULL, *mode = "full";
    while ((opt = getopt(argc, argv, "t:s:b:d:m:")) != -1) {
        switch (opt) {
        case 't': threads = atoi(optarg); break;
        case 's': socket_path = optarg; break;
        case 'b': backlog = atoi(optarg); break;
        case 'd': db_path = optarg; break;
        case 'm': mode = optarg; break;
        default:
            fprintf(stderr, "usage: %s [-t THREADS] [-s SOCKET] [-b BACKLOG] [-d DB_PATH -m full|normal]\n", argv[0]);
            return 2;
        }
    }
    if (threads < 1 || threads > MAX_THREADS) fail("-t must be 1-256", NULL);

    if (FCGX_Init() != 0) fail("FCGX_Init failed", NULL);
    if (socket_path) {
        mode_t old = umask(0117); /* the socket comes out 0660 */
        listen_fd = FCGX_OpenSocket(socket_path, backlog);
        umask(old);
        if (listen_fd < 0) fail("cannot listen on", socket_path);
    } else {
        struct stat st;
        if (fstat(0, &st) != 0 || !S_ISSOCK(st.st_mode)) fail("fd 0 is not a socket: use -s SOCKET or spawn-fcgi", NULL);
        listen_fd = 0;
    }
    if (db_path) open_db(db_path, mode);

    /* Block the stop signals in every thread; the main thread sigwaits for them. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);

    pthread_t tids[MAX_THREADS];
    for (int i = 0; i < threads; i++)
        if (pthread_create(&tids[i], NULL, worker, NULL) != 0) fail("pthread_create failed", strerror(errno));
    fprintf(stderr, "responder: %d threads, %s%s%s\n", threads, db_path ? "POST /orders -> " : "GET only",
            db_path ? db_path : "", db_path ? (strcmp(mode, "full") == 0 ? " (synchronous=FULL)" : " (synchronous=NORMAL)") : "");

    int sig = 0;
    sigwait(&stop, &sig);
    FCGX_ShutdownPending();
    shutdown(listen_fd, SHUT_RDWR); /* idle FCGX_Accept_r calls return at once */
    /* Threads parked on a kept connection wake only when nginx closes it (bench/run.sh stops nginx
     * first): give them 10 s, then exit anyway. */
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 10;
    for (int i = 0; i < threads; i++) {
        if (pthread_timedjoin_np(tids[i], NULL, &deadline) != 0) {
            fprintf(stderr, "responder: threads still busy after 10 s, exiting anyway\n");
            return 1;
        }
    }
    if (db) {
        sqlite3_finalize(insert_stmt);
        sqlite3_close(db);
    }
    if (socket_path) unlink(socket_path);
    return 0;
}
