import Foundation
import Testing
import OrderdSupport

/// `SecretFile`: what a `*_file` key reads, from a path or from systemd's `$CREDENTIALS_DIRECTORY`.
@Suite struct SecretFileTests {
    /// A temporary directory standing in for `$CREDENTIALS_DIRECTORY`, holding `files`; the caller removes it.
    static func credentials(_ files: [String: String]) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("orderd-cred-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        for (name, contents) in files {
            try contents.write(toFile: directory + "/" + name, atomically: true, encoding: .utf8)
        }
        return directory
    }

    @Test func aCredentialIsReadFromTheCredentialsDirectory() throws {
        let directory = try Self.credentials(["pgpassword": "s3cret\n"])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let environment = ["CREDENTIALS_DIRECTORY": directory]
        #expect(try SecretFile.path(of: "credential:pgpassword", key: "store.password_file", environment: environment)
            == directory + "/pgpassword")
        #expect(try SecretFile.read("credential:pgpassword", key: "store.password_file", environment: environment) == "s3cret")
    }

    @Test func anAbsolutePathIsReadAsItIs() throws {
        let directory = try Self.credentials(["pw": "abc"])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(try SecretFile.read(directory + "/pw", key: "store.password_file", environment: [:]) == "abc")
    }

    @Test(arguments: [
        ("s3cret\n", "s3cret"), ("s3cret\r\n", "s3cret"), ("s3cret", "s3cret"), ("s3cret\n\n", "s3cret\n"),
        ("two\nlines\n", "two\nlines"), ("\n", ""),
    ])
    func oneTrailingNewlineIsRemoved(_ contents: String, _ expected: String) throws {
        let directory = try Self.credentials(["c": contents])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(try SecretFile.read("credential:c", key: "k", environment: ["CREDENTIALS_DIRECTORY": directory]) == expected)
    }

    @Test func withoutCredentialsDirectoryTheMessageNamesTheUnitSetting() {
        let error = #expect(throws: SecretFile.Failure.self) {
            try SecretFile.read("credential:pgpassword", key: "store.password_file", environment: [:])
        }
        #expect(error?.description == "store.password_file = credential:pgpassword: $CREDENTIALS_DIRECTORY is not set (the unit needs LoadCredential=pgpassword:<path>)")
    }

    @Test func aMissingFileIsNamedAndNothingOfItsContentsIsShown() throws {
        let directory = try Self.credentials([:])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let error = #expect(throws: SecretFile.Failure.self) {
            try SecretFile.read("credential:absent", key: "store.password_file", environment: ["CREDENTIALS_DIRECTORY": directory])
        }
        #expect(error?.description.hasPrefix("store.password_file = credential:absent: \(directory)/absent cannot be read (No such file or directory)") == true)
    }

    @Test(arguments: [
        ("/etc/orderd/pgpassword", true), ("credential:pgpassword", true), ("credential:", false), ("credential:a/b", false),
        ("credential:..", false), ("relative/path", false), ("", false),
    ])
    func references(_ text: String, _ valid: Bool) {
        #expect(SecretFile.isValidReference(text) == valid)
    }
}
