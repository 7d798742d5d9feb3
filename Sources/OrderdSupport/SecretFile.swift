import Foundation

/// Where a `*_file` key points: an absolute path, or `credential:<name>` for a secret systemd hands over with
/// `LoadCredential=<name>:<path>` (read from `$CREDENTIALS_DIRECTORY/<name>`, a directory only the service sees).
///
/// The value of such a key is a place, not the secret: it may be shown; the file's contents never are.
package enum SecretFile {
    package static let credentialPrefix = "credential:"

    package struct Failure: Error, Sendable, CustomStringConvertible {
        /// Names the key and the place, never the contents.
        package let description: String

        package init(description: String) {
            self.description = description
        }
    }

    /// True for text a `*_file` key accepts: an absolute path or `credential:<name>` with a plain file name.
    package static func isValidReference(_ text: String) -> Bool {
        if text.hasPrefix("/") { return true }
        guard text.hasPrefix(credentialPrefix) else { return false }
        let name = text.dropFirst(credentialPrefix.count)
        return !name.isEmpty && name != "." && name != ".." && !name.contains("/")
    }

    /// The file a reference names. `credential:<name>` needs `$CREDENTIALS_DIRECTORY` (set by systemd for a
    /// unit with `LoadCredential=`); without it the failure says so.
    package static func path(
        of reference: String, key: String,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(Failure) -> String {
        guard reference.hasPrefix(credentialPrefix) else { return reference }
        let name = String(reference.dropFirst(credentialPrefix.count))
        guard let directory = environment["CREDENTIALS_DIRECTORY"], !directory.isEmpty else {
            throw Failure(description: "\(key) = \(reference): $CREDENTIALS_DIRECTORY is not set (the unit needs LoadCredential=\(name):<path>)")
        }
        return directory + "/" + name
    }

    /// The contents of the file a reference names, with one trailing newline (or CRLF) removed.
    package static func read(
        _ reference: String, key: String,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(Failure) -> String {
        let path = try path(of: reference, key: key, environment: environment)
        guard let data = FileManager.default.contents(atPath: path) else {
            throw Failure(description: "\(key) = \(reference): \(path) cannot be read (\(String(cString: strerror(errno))))")
        }
        var text = String(decoding: data, as: UTF8.self)
        if text.hasSuffix("\r\n") { text.removeLast(1) } else if text.hasSuffix("\n") { text.removeLast() }
        return text
    }
}
