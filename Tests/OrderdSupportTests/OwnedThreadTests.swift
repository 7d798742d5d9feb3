import Foundation
import OrderdSupport
import Synchronization
import Testing

@Suite struct OwnedThreadTests {
    /// What ops see in `top -H`, `ps -L` and perf: the name given, cut to the kernel's 15 bytes.
    @Test(arguments: [("orderd-writer", "orderd-writer"), ("orderd-status-sampler", "orderd-status-s")])
    func theThreadCarriesItsName(given: String, shown: String) throws {
        let seen = Mutex<String?>(nil)
        let thread = try OwnedThread(name: given) {
            let comm = try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)
            seen.withLock { $0 = comm?.trimmingCharacters(in: .newlines) }
        }
        thread.join()
        #expect(seen.withLock { $0 } == shown)
    }
}
