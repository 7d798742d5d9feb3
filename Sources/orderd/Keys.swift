import ArgumentParser
import Foundation
import OrderdHTTP
import OrderdSupport

#if canImport(Glibc)
import Glibc
#endif

extension Orderd {
    struct Keys: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make API keys (the secret is printed once; the keys file holds only its SHA-256).",
            subcommands: [New.self]
        )

        struct New: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Generate a key: prints the secret once and the line for auth.keys_file.",
                discussion: """
                    Give the secret to the client (it sends `Authorization: Bearer <secret>`); it is not stored \
                    anywhere. Add the line to the keys file (or use --append-to), then `systemctl reload orderd`. \
                    To revoke a key, delete its line and reload.
                    """
            )

            @Option(name: .long, help: "Comma-separated scopes: orders:write, orders:read (PII included), admin.")
            var scopes: String
            @Option(name: .long, help: "The key's id in logs and orders (default: key_ and 8 random hex digits).")
            var id: String?
            @Option(name: .long, help: "A note kept in the keys file (who holds the key, what for).")
            var note: String = ""
            @Option(name: .customLong("append-to"), help: "Append the line to this keys file (created with mode 0600).")
            var appendTo: String?
            @Option(name: .customLong("secret-to"), help: "Write the secret to this file (mode 0600) instead of printing it.")
            var secretTo: String?

            func validate() throws {
                _ = try parsedScopes()
                if let id, !APIKey.isValidID(id) { throw ValidationError("--id must be 1 to 64 of A-Z a-z 0-9 _ - .") }
                if note.contains(where: \.isNewline) { throw ValidationError("--note must be one line.") }
            }

            func parsedScopes() throws -> Set<Scope> {
                var scopes: Set<Scope> = []
                for name in self.scopes.split(separator: ",") {
                    guard let scope = Scope(rawValue: name.trimmingCharacters(in: .whitespaces)) else {
                        throw ValidationError("--scopes: unknown scope '\(name)'; expected \(Scope.allCases.map(\.rawValue).joined(separator: ", ")).")
                    }
                    scopes.insert(scope)
                }
                guard !scopes.isEmpty else { throw ValidationError("--scopes needs at least one scope.") }
                return scopes
            }

            func run() throws {
                let (key, secret) = APIKey.generate(id: id, scopes: try parsedScopes(), note: note)
                if let appendTo {
                    if let existing = FileManager.default.contents(atPath: appendTo),
                        let keys = try? APIKeyFile.parse(String(decoding: existing, as: UTF8.self), source: appendTo),
                        keys.contains(where: { $0.id == key.id })
                    {
                        printError("orderd: \(appendTo) already has a key with id '\(key.id)'")
                        throw ExitStatus.data
                    }
                    try Self.append(key.line + "\n", to: appendTo)
                }
                if let secretTo {
                    try Self.write(secret + "\n", to: secretTo)
                } else {
                    print("secret (shown once; the client sends 'Authorization: Bearer <secret>'):")
                    print("  \(secret)")
                }
                if appendTo == nil {
                    print("line for auth.keys_file (then: systemctl reload orderd):")
                    print("  \(key.line)")
                } else {
                    printError("orderd: key '\(key.id)' added to \(appendTo!); reload orderd to use it")
                }
            }

            /// Appends with O_APPEND (mode 0600 when it creates the file; an existing file keeps its mode), fsynced.
            static func append(_ text: String, to path: String) throws {
                try writeFile(text, to: path, flags: O_APPEND | O_CREAT, sync: true, cannotOpen: "cannot open \(path)")
            }

            /// Creates the file (mode 0600); refuses one that exists.
            static func write(_ text: String, to path: String) throws {
                try writeFile(text, to: path, flags: O_CREAT | O_EXCL, sync: false,
                              cannotOpen: "cannot create \(path) (it must not exist yet)")
            }

            private static func writeFile(_ text: String, to path: String, flags: Int32, sync: Bool, cannotOpen: String) throws {
                let fd = open(path, O_WRONLY | O_CLOEXEC | flags, 0o600)
                guard fd >= 0 else {
                    printError("orderd: \(cannotOpen): \(String(cString: strerror(errno)))")
                    throw ExitStatus.cannotCreate
                }
                defer { close(fd) }
                let written = text.withCString { Glibc.write(fd, $0, strlen($0)) }
                guard written == text.utf8.count, !sync || fsync(fd) == 0 else {
                    printError("orderd: cannot write \(path): \(String(cString: strerror(errno)))")
                    throw ExitStatus.ioError
                }
            }
        }
    }
}
