import Synchronization

/// Which durable tasks a new order gets, the lease its creator takes on them, and the SMS limit per recipient:
/// what the store writes and checks in the order's own transaction. A reload changes them (turning
/// `task.webhook.url` on or off changes the kinds); each order reads them once.
public final class OutboxInsertion: Sendable {
    /// What one order is written with.
    public struct Settings: Sendable, Equatable {
        /// Durable kinds only.
        public var kinds: [TaskKind]
        public var lease: Duration
        /// `task.sms.per_recipient`; nil: no limit.
        public var perRecipient: RecipientLimit?
    }

    /// The process that will run them (`FollowUps.owner`): the lease token of every new order's tasks.
    public let owner: String
    private let box: Mutex<Settings>

    public init(kinds: [TaskKind], owner: String, lease: Duration, perRecipient: RecipientLimit? = nil) {
        self.owner = owner
        self.box = Mutex(Settings(kinds: kinds.filter(\.isDurable), lease: lease, perRecipient: perRecipient))
    }

    /// The settings in force.
    public var settings: Settings { box.withLock { $0 } }

    /// The durable kinds and the lease in force.
    public var current: (kinds: [TaskKind], lease: Duration) {
        let settings = self.settings
        return (settings.kinds, settings.lease)
    }

    public var kinds: [TaskKind] { current.kinds }

    func update(kinds: [TaskKind], lease: Duration, perRecipient: RecipientLimit?) {
        box.withLock { $0 = Settings(kinds: kinds.filter(\.isDurable), lease: lease, perRecipient: perRecipient) }
    }
}
