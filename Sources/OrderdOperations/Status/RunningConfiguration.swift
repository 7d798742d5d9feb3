import OrderdConfig
import OrderdSupport
import Synchronization

/// The configuration in force and when it was loaded, for `/status`; a reload replaces it.
package final class RunningConfiguration: Sendable {
    package let path: String
    private let state: Mutex<(configuration: OrderdConfiguration, loadedAtMillis: Int64)>

    package init(_ configuration: OrderdConfiguration, path: String, loadedAtMillis: Int64) {
        self.path = path
        state = Mutex((configuration, loadedAtMillis))
    }

    package var current: (configuration: OrderdConfiguration, loadedAtMillis: Int64) { state.withLock { $0 } }

    package func replace(with configuration: OrderdConfiguration, at millis: Int64) {
        state.withLock { $0 = (configuration, millis) }
    }
}
