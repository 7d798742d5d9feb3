import OrderdSupport

extension OrderdConfiguration {
    /// Valid settings that leave something open that should not be, as whole sentences that say what to set:
    /// printed by `orderd check-config` and logged once at start, never refused (a lab or a private network may
    /// want exactly that).
    package var warnings: [String] {
        var warnings: [String] = []
        if case .tcp(let host, let port) = server.listen, !Self.isLoopback(host), server.allowFrom.allowsEveryone {
            let shown = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
            warnings.append(
                "server.listen is \(shown), reachable from other machines, and server.allow_from is empty, so any peer that reaches the port is served; set server.allow_from to the web servers' addresses (such as 10.0.0.5 or 10.0.0.0/24).")
        }
        if store.driver == .postgres, let url = PostgresURL(store.url), url.sslModeIsDefault, url.sslMode == .prefer, !url.isLoopback {
            warnings.append(
                "store.url names a PostgreSQL server on another machine without sslrootcert or sslmode, so sslmode is prefer: the connection may be unencrypted and the server's certificate is not verified; add sslrootcert=/path/to/ca.pem to the URL (verify-full then is the default), or sslmode=verify-full to check against the system trust store.")
        }
        return warnings
    }

    private static func isLoopback(_ host: String) -> Bool {
        host.hasPrefix("127.") || host == "::1"
    }
}
