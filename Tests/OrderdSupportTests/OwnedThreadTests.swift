import Foundation
import OrderdSupport
import Synchronization
import Testing

@Suite struct OwnedThreadTests {
    /// What ops see in `top -H`, `ps -L` and perf: the name given, whole (names are held to the kernel's 15
    /// bytes, so none is cut); the longest request and PostgreSQL thread names included.
    @Test(arguments: ["orderd-writer", "orderd-req-9999", "orderd-pg-99999", "orderd-dispatch"])
    func theThreadCarriesItsWholeName(name: String) throws {
        let seen = Mutex<String?>(nil)
        let thread = try OwnedThread(name: name) {
            let comm = try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)
            seen.withLock { $0 = comm?.trimmingCharacters(in: .newlines) }
        }
        thread.join()
        #expect(seen.withLock { $0 } == name)
    }
}
