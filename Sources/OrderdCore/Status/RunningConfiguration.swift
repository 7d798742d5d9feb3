import Synchronization

/// The configuration in force and when it was loaded, for `/status`; a reload replaces it.
public final class RunningConfiguration: Sendable {
    public let path: String
    private let state: Mutex<(configuration: OrderdConfiguration, loadedAtMillis: Int64)>

    public init(_ configuration: OrderdConfiguration, path: String, loadedAtMillis: Int64) {
        self.path = path
        state = Mutex((configuration, loadedAtMillis))
    }

    public var current: (configuration: OrderdConfiguration, loadedAtMillis: Int64) { state.withLock { $0 } }

    func replace(with configuration: OrderdConfiguration, at millis: Int64) {
        state.withLock { $0 = (configuration, millis) }
    }
}
