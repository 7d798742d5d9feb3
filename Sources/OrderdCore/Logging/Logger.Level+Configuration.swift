import Logging

extension Logger.Level {
    /// The swift-log level for `log.level`.
    public init(_ level: OrderdConfiguration.Log.Level) {
        self = Logger.Level(rawValue: level.rawValue) ?? .info
    }
}
