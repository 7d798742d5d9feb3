import Foundation
@testable import OrderdSupport
import Testing

@Suite struct AvailableCPUsTests {
    /// The count `auto` request threads are sized by is the one ops see from `nproc` (the affinity mask).
    @Test func countsWhatNprocCounts() throws {
        let nproc = Process()
        nproc.executableURL = URL(fileURLWithPath: "/usr/bin/nproc")
        let output = Pipe()
        nproc.standardOutput = output
        try nproc.run()
        nproc.waitUntilExit()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let counted = try #require(Int(text.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(AvailableCPUs.count == counted)
    }
}

extension AvailableCPUsTests {
    @Test func readsKernelCPULists() {
        #expect(AvailableCPUs.count(list: "\t0-1") == 2)
        #expect(AvailableCPUs.count(list: "0-3,8,10-11") == 7)
        #expect(AvailableCPUs.count(list: "5") == 1)
        #expect(AvailableCPUs.count(list: "") == nil)
        #expect(AvailableCPUs.count(list: "3-1") == nil)
        #expect(AvailableCPUs.count(list: "0-") == nil)
    }
}
