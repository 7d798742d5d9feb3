import Logging
import OrderdConfig
import OrderdSupport

extension Logger.Level {
    /// The swift-log level for `log.level`.
    package init(_ level: OrderdConfiguration.Log.Level) {
        self = Logger.Level(rawValue: level.rawValue) ?? .info
    }
}
