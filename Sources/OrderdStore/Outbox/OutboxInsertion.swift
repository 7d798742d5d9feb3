import OrderdConfig
import OrderdSupport

#if canImport(Glibc)
import Glibc
#endif

/// Which durable tasks a new order gets, the lease its creator takes on them, and the SMS limit per recipient:
/// what the store writes and checks in the order's own transaction. A reload changes them (turning
/// `task.webhook.url` on or off changes the kinds); each order reads them once.
package final class OutboxInsertion: Sendable {
    /// What one order is written with.
    package struct Settings: Sendable, Equatable {
        /// Durable kinds only.
        package var kinds: [TaskKind]
        package var lease: Duration
        /// `task.sms.per_recipient`; nil: no limit.
        package var perRecipient: RecipientLimit?
    }

    /// The process that will run them (`FollowUps.owner`): the lease token of every new order's tasks.
    package let owner: String
    private let box: Reloadable<Settings>

    package init(kinds: [TaskKind], owner: String, lease: Duration, perRecipient: RecipientLimit? = nil) {
        self.owner = owner
        self.box = Reloadable(Settings(kinds: kinds.filter(\.isDurable), lease: lease, perRecipient: perRecipient))
    }

    /// The settings in force.
    package var settings: Settings { box.value }

    /// The durable kinds and the lease in force.
    package var current: (kinds: [TaskKind], lease: Duration) {
        let settings = self.settings
        return (settings.kinds, settings.lease)
    }

    package var kinds: [TaskKind] { current.kinds }

    package func update(kinds: [TaskKind], lease: Duration, perRecipient: RecipientLimit?) {
        box.value = Settings(kinds: kinds.filter(\.isDurable), lease: lease, perRecipient: perRecipient)
    }

    /// A name for this process on leases: host, pid and a random suffix (a restarted process is a new owner).
    package static func makeOwner() -> String {
        var name = [UInt8](repeating: 0, count: 256)
        gethostname(&name, name.count - 1)
        let host = String(decoding: name.prefix { $0 != 0 }, as: UTF8.self)
        var random = SystemRandomNumberGenerator()
        let suffix = String(UInt32.random(in: 0...UInt32.max, using: &random), radix: 16)
        return "\(host):\(getpid()):\(suffix)"
    }
}
