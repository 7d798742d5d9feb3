#include <fcgiapp.h>
#include <fcgi_config.h>

/// libfcgi has no version call; its configure header names the version it was built as (`orderd --version`).
static inline const char *orderd_fcgi_version(void) { return VERSION; }

/// The readiness wait of the request threads (FastCGIServer): Swift's Glibc module does not include epoll.
#include <sys/epoll.h>
