import NIOSSL
import OrderdConfig
import OrderdSupport
import PostgresNIO

/// Why a TLS handshake with PostgreSQL was refused, in words ops can act on.
///
/// postgres-nio hands on NIOSSL's errors as they come: BoringSSL's `CERTIFICATE_VERIFY_FAILED` for a chain that
/// does not lead to a trusted CA, `failedToValidateHostname` for a certificate that does not name the host.
/// Neither says which setting to look at, so the store's connect error replaces them with this.
enum PostgresTLSFailure: Equatable {
    case untrusted
    case hostMismatch

    /// The failure inside `error` (a `PSQLError` with an underlying NIOSSL error, or one itself), if any.
    init?(_ error: any Error) {
        var current: (any Error)? = error
        var depth = 0
        while let error = current, depth < 4 {
            if let ssl = error as? NIOSSLError {
                switch ssl {
                case .unableToValidateCertificate, .cannotMatchULabel:
                    self = .hostMismatch
                    return
                case .handshakeFailed(let failure) where "\(failure)".contains("CERTIFICATE_VERIFY_FAILED"):
                    self = .untrusted
                    return
                default:
                    return nil
                }
            }
            if let extra = error as? NIOSSLExtraError, extra == .failedToValidateHostname || extra == .serverHostnameImpossibleToMatch {
                self = .hostMismatch
                return
            }
            current = (error as? PSQLError)?.underlying
            depth += 1
        }
        return nil
    }

    /// A whole sentence for the start-up error; names the host and where the trusted CAs came from.
    func message(_ url: PostgresURL) -> String {
        switch self {
        case .untrusted:
            let trusted = url.rootCertificate.map { "the CA in sslrootcert \($0)" } ?? "the system trust store (no sslrootcert in store.url)"
            return "the server's TLS certificate could not be verified against \(trusted): not issued by it, or expired or not yet valid (sslmode=verify-full)"
        case .hostMismatch:
            return "the server's TLS certificate does not match the host name '\(url.host ?? "")' of store.url: it names other hosts (sslmode=verify-full checks the name)"
        }
    }
}
