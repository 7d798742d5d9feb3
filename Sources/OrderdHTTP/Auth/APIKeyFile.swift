import Foundation
import OrderdSupport

/// The keys file (`auth.keys_file`): one key per line,
///
///     # id        hash                                                                      scopes                       note
///     shop-web    sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08  orders:write                 checkout
///     ops-1       sha256:...                                                                admin,orders:read            on-call
///
/// Blank lines and lines starting with `#` are skipped. It holds no secret (only hashes), but who may add a
/// line may mint a key: the file must be readable and writable by its owner alone, like an ssh key.
package enum APIKeyFile {
    package struct Failure: Error, Sendable, CustomStringConvertible {
        package let description: String
    }

    /// Reads and checks the file a `keys_file` reference names (a path or `credential:<name>`).
    package static func load(
        _ reference: String, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(Failure) -> [APIKey] {
        let path: String
        do { path = try SecretFile.path(of: reference, key: "auth.keys_file", environment: environment) } catch {
            throw Failure(description: error.description)
        }
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw Failure(description: "auth.keys_file = \(reference): \(path) cannot be read (\(String(cString: strerror(errno)))); create it with `orderd keys new --append-to \(path)`")
        }
        let mode = info.st_mode & 0o777
        guard mode & 0o077 == 0 else {
            throw Failure(description: "auth.keys_file = \(reference): \(path) has mode \(String(mode, radix: 8)); it must be readable by its owner only (chmod 600 \(path))")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw Failure(description: "auth.keys_file = \(reference): \(path) cannot be read (\(String(cString: strerror(errno))))")
        }
        return try parse(String(decoding: data, as: UTF8.self), source: path)
    }

    /// Parses the text of a keys file; `source` names it in messages. Every bad line is a failure: a key file
    /// half-read would lock out the keys after the bad line.
    package static func parse(_ text: String, source: String) throws(Failure) -> [APIKey] {
        var keys: [APIKey] = []
        var seen: Set<String> = []
        for (index, raw) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let place = "\(source):\(index + 1)"
            let fields = line.split(maxSplits: 3, whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard fields.count >= 3 else {
                throw Failure(description: "\(place): expected `id sha256:<64 hex digits> scope[,scope...] [note]`")
            }
            let id = fields[0]
            guard APIKey.isValidID(id) else {
                throw Failure(description: "\(place): key id '\(id.prefix(64))' must be 1 to 64 of A-Z a-z 0-9 _ - .")
            }
            guard seen.insert(id).inserted else { throw Failure(description: "\(place): key id '\(id)' appears twice") }
            guard fields[1].hasPrefix("sha256:"), let hash = Hex.decode(fields[1].dropFirst(7)), hash.count == 32 else {
                throw Failure(description: "\(place): key '\(id)': expected sha256:<64 hex digits> (the hash, never the secret; `orderd keys new` prints the line)")
            }
            var scopes: Set<Scope> = []
            for name in fields[2].split(separator: ",") {
                guard let scope = Scope(rawValue: String(name)) else {
                    throw Failure(description: "\(place): key '\(id)': unknown scope '\(name.prefix(32))'; expected \(Scope.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                scopes.insert(scope)
            }
            guard !scopes.isEmpty else { throw Failure(description: "\(place): key '\(id)' has no scope") }
            keys.append(APIKey(id: id, secretSHA256: hash, scopes: scopes, note: fields.count > 3 ? fields[3] : ""))
        }
        return keys
    }
}
