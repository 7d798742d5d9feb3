import Synchronization

/// Which durable tasks a new order gets, and the lease its creator takes on them: what the store writes in the
/// order's own transaction. A reload changes both (turning `task.webhook.url` on or off changes the kinds);
/// each order reads them once.
public final class OutboxInsertion: Sendable {
    /// The process that will run them (`FollowUps.owner`): the lease token of every new order's tasks.
    public let owner: String
    private let settings: Mutex<(kinds: [TaskKind], lease: Duration)>

    public init(kinds: [TaskKind], owner: String, lease: Duration) {
        self.owner = owner
        self.settings = Mutex((kinds.filter(\.isDurable), lease))
    }

    /// The durable kinds and the lease in force.
    public var current: (kinds: [TaskKind], lease: Duration) { settings.withLock { $0 } }

    public var kinds: [TaskKind] { current.kinds }

    func update(kinds: [TaskKind], lease: Duration) {
        settings.withLock { $0 = (kinds.filter(\.isDurable), lease) }
    }
}
