import Testing
import TestSupport
@testable import OrderdSupport

@Suite struct AvailableCPUsTests {
    /// The count `auto` request threads are sized by is the one ops see from `nproc` (the affinity mask).
    @Test func countsWhatNprocCounts() throws {
        #expect(AvailableCPUs.count == (try nproc()))
    }

    @Test func readsKernelCPULists() {
        #expect(AvailableCPUs.count(list: "\t0-1") == 2)
        #expect(AvailableCPUs.count(list: "0-3,8,10-11") == 7)
        #expect(AvailableCPUs.count(list: "5") == 1)
        #expect(AvailableCPUs.count(list: "") == nil)
        #expect(AvailableCPUs.count(list: "3-1") == nil)
        #expect(AvailableCPUs.count(list: "0-") == nil)
    }
}
