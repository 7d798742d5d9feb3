import Foundation

/// Runs a command to completion, its stdin empty, and returns its status and combined output (stdout and stderr).
@discardableResult
public func runCommand(
    _ executable: String, _ arguments: [String] = [], environment: [String: String]? = nil, in directory: URL? = nil
) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let environment { process.environment = environment }
    if let directory { process.currentDirectoryURL = directory }
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// What `nproc` prints: the CPUs this process may run on, counted the way ops count them.
public func nproc() throws -> Int {
    let (status, text) = try runCommand("/usr/bin/nproc")
    guard status == 0, let count = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
        throw CocoaError(.fileReadCorruptFile, userInfo: [NSLocalizedDescriptionKey: "nproc printed '\(text)'"])
    }
    return count
}
