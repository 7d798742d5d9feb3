import OrderdSupport

/// The last `capacity` samples: a ring that drops the oldest once full, so memory stays bounded however long
/// the process runs.
struct StatusHistory: Sendable {
    let capacity: Int
    private var storage: [StatusSample] = []
    /// Where the next sample goes once the ring is full (it is then the oldest).
    private var next = 0

    init(capacity: Int) {
        precondition(capacity > 0, "a history holds at least one sample")
        self.capacity = capacity
        storage.reserveCapacity(capacity)
    }

    mutating func append(_ sample: StatusSample) {
        if storage.count < capacity {
            storage.append(sample)
        } else {
            storage[next] = sample
            next = (next + 1) % capacity
        }
    }

    /// Oldest first.
    var samples: [StatusSample] {
        next == 0 ? storage : Array(storage[next...] + storage[..<next])
    }
}
