import OrderdSupport
import Synchronization

/// Copies the WAL back into the database on its own thread and connection, so the group-commit writer never
/// does it inside a commit, and asks the writer to let the WAL start over once it has grown.
///
/// SQLite's automatic checkpoint runs in whichever connection commits past `wal_autocheckpoint` pages, which is
/// the writer: every such commit (and every order waiting on it) took tens of milliseconds, measured as a
/// p99 of 32–45 ms at `synchronous=normal` against 10 ms at `full`. A PASSIVE checkpoint from another
/// connection runs beside the writer (they take different locks) and never blocks it.
///
/// But SQLite writes the WAL from its start again only when a write transaction begins with every frame already
/// copied, which a checkpoint beside a writer that commits back to back never achieves: under steady load the
/// WAL grew without end (measured: 475 MB in a 10 s POST /orders row), and every commit appended to new file
/// pages, which the kernel zeroes, allocates and writes back (in one profiled row, `pwrite` took 10% of orderd's
/// samples, half of it zeroing).
/// So once the WAL holds `restartFrames`, this asks the writer (`WALRestart`) to run one PASSIVE checkpoint
/// itself between two transactions: only the frames written since this thread's last pass are left to copy,
/// and the writer's next transaction starts the WAL over, into pages the file already has.
///
/// Once a pass finds every frame of the WAL copied, the thread sleeps without a deadline until the writer
/// changes rows again (`writerChangedRows`): passes every 250 ms over nothing were 4 of an idle orderd's 21
/// context switches a second. Other processes' writes (`orderd tasks retry`, the old process of a restart) do
/// not wake it: their frames wait in the WAL, where every reader finds them, until the daemon's writer next
/// writes or closes (a `tasks` connection keeps SQLite's own automatic checkpoint, past 1000 frames). That
/// only delays copying pages, never what anyone reads, so it is left so.
final class WALCheckpointer: Sendable {
    private let connection: SQLiteConnection
    private let interval: Duration
    private let restartFrames: Int
    /// Its request to the writer to let the WAL start over; the writer runs it between two transactions.
    let restart = WALRestart()
    /// Where each pass's duration goes (the store's metrics, once set).
    private let observer: @Sendable () -> (any CommitObserver)?
    private let thread = BackgroundThread(name: "orderd-ckpt")

    /// 16 MiB with SQLite's 4 KiB pages, so that the file (which grows on while the request waits for the writer)
    /// stays below the 64 MiB `journal_size_limit`: past it, each start-over would cut the file back and have it
    /// grow into new pages again (measured with 8192: peaks of 64–67 MB).
    static let defaultRestartFrames = 4096

    /// - Parameters:
    ///   - connection: used by the checkpointer's thread only, which closes it when it ends.
    ///   - restartFrames: the WAL size (in pages) from which the writer is asked to let it start over
    ///     (`defaultRestartFrames`).
    ///   - observer: gets each pass's duration.
    init(
        connection: SQLiteConnection, interval: Duration = .milliseconds(250),
        restartFrames: Int = defaultRestartFrames, observer: @escaping @Sendable () -> (any CommitObserver)? = { nil }
    ) {
        self.connection = connection
        self.observer = observer
        self.interval = interval
        self.restartFrames = restartFrames
    }

    func start() throws(StoreError) {
        do {
            try thread.start { [self] context in
                run(context)
                connection.close()
            }
        } catch {
            throw StoreError(error)
        }
    }

    /// Stops the thread and closes its connection; returns when both are done.
    func stop() {
        thread.stop()
    }

    /// Whether the thread sleeps until the writer's next change (or is about to): one relaxed load, which the writer
    /// makes each round before it looks whether it changed rows.
    var isIdle: Bool { thread.isIdle }

    /// Called by the writer after a round in which it changed rows (so wrote to the WAL), once `isIdle` said the
    /// thread sleeps: wakes it, unless another call already did.
    ///
    /// No wake is lost: the thread raises the flag before its last pass, the writer reads it after its commit,
    /// and both the commit (releasing the write lock) and the pass (taking the checkpoint lock) go through SQLite's
    /// lock on the WAL index, one mutex for every connection of this process to the file. So either the pass sees
    /// the commit's frames, or the writer sees the flag.
    func writerChangedRows() {
        thread.wakeIfIdle()
    }

    private func run(_ context: BackgroundThread.Context) {
        var sleeping = false
        while context.wait(until: sleeping ? nil : .now.advanced(by: interval)) {
            if sleeping {
                // The writer wrote: the next pass an interval from now, as under load.
                sleeping = false
                continue
            }
            // Best effort: a failed or partial checkpoint is simply tried again next round; the WAL holds
            // everything committed meanwhile.
            guard let pass = checkpoint() else { continue }
            if pass.walFrames >= restartFrames {
                // Two more passes first, each copying only what was committed during the one before, so that
                // the writer's own checkpoint finds little left to copy and to fsync: it holds up a batch.
                // (With the request right after the first pass, POST /orders p99 at synchronous=normal was
                // 1.2–1.3x what it is without the writer's checkpoint.)
                _ = checkpoint()
                _ = checkpoint()
                restart.request()
                continue
            }
            // While orders keep coming some frame is nearly always left to copy: this is reached once writes
            // pause. The flag goes up before a pass that proves nothing is left (see `writerChangedRows`); a
            // commit during that pass wakes the thread right after it falls asleep.
            guard pass.copiedAll else { continue }
            context.becomeIdle()
            if let last = checkpoint(), last.copiedAll {
                sleeping = true
            } else {
                context.stayAwake()
            }
        }
    }

    /// One PASSIVE pass, its duration reported.
    private func checkpoint() -> SQLiteConnection.WALCheckpoint? {
        let started = ContinuousClock.now
        let pass = connection.checkpointPassive()
        if pass != nil { observer()?.checkpointFinished(duration: .now - started, byWriter: false) }
        return pass
    }
}

/// The checkpointer's request to the writer: checkpoint once between two transactions, so that the WAL starts
/// over (see `WALCheckpointer`).
final class WALRestart: Sendable {
    private let wanted = Atomic<Bool>(false)

    func request() { wanted.store(true, ordering: .relaxed) }

    /// Called by the writer between transactions: runs the checkpoint on its connection if one was asked for;
    /// returns how long it took, nil when none ran. One that could not run (the checkpointer's own pass held the
    /// lock) stays asked for.
    @discardableResult
    func runIfRequested(on connection: SQLiteConnection) -> Duration? {
        guard wanted.exchange(false, ordering: .relaxed) else { return nil }
        let started = ContinuousClock.now
        guard connection.checkpointPassive() != nil else {
            request()
            return nil
        }
        return .now - started
    }
}
