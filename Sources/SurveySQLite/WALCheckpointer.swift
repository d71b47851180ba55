import Foundation
import GRDB
import Synchronization

/// Copies the write-ahead log into the database file from a connection
/// and thread of its own, twice a second.
///
/// Left to SQLite, the connection that commits runs the checkpoint once the
/// log passes 1,000 pages, inside that commit: with half a million surveys
/// each batch of ingest dirties hundreds of scattered index pages, so nearly
/// every commit paid for a checkpoint while the next batch waited. Here the
/// writer only appends to the log; a passive checkpoint never blocks it,
/// and a page written by several batches in between is copied once. The
/// writer keeps a much larger automatic checkpoint as a bound in case this
/// one falls behind.
final class WALCheckpointer: Sendable {
    /// The writer's own automatic checkpoint, in pages (64 MiB of log).
    static let writerBound = 16_384
    /// Shared with the thread, which must not keep the checkpointer alive.
    private final class Control: Sendable {
        let stopped = Mutex(false)
        let wake = DispatchSemaphore(value: 0)
    }
    private let control = Control()

    init(path: String, every interval: Duration = .milliseconds(500)) throws {
        var configuration = Configuration()
        configuration.label = "checkpoint"
        let queue = try DatabaseQueue(path: path, configuration: configuration)
        try queue.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        let milliseconds = Int(interval.components.seconds * 1000 + interval.components.attoseconds / 1_000_000_000_000_000)
        let thread = Thread { [control] in
            while !control.stopped.withLock({ $0 }) {
                _ = control.wake.wait(timeout: .now() + .milliseconds(milliseconds))
                // A reader or the writer's own checkpoint may hold the log:
                // passive gives way and the next round goes on.
                _ = try? queue.writeWithoutTransaction { db in try db.checkpoint(.passive) }
            }
            try? queue.close()
        }
        thread.name = "vsurvey-checkpoint"
        thread.start()
    }

    func stop() {
        control.stopped.withLock { $0 = true }
        control.wake.signal()
    }

    deinit { stop() }
}
