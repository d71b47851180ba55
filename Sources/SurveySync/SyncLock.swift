import Foundation
import SurveyCore

#if canImport(Glibc)
    import Glibc
#endif

/// One sync at a time per database, across processes (cron and a person
/// at the keyboard): an exclusive `flock` on `sync.lock` beside the
/// database, released when the holder ends, even if it is killed.
public final class SyncLock {
    private let descriptor: Int32

    /// Takes the lock, or fails at once if another sync holds it.
    public init(directory: URL) throws(SyncError) {
        let path = directory.appendingPathComponent("sync.lock").path
        let descriptor = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw SyncError(message: L("无法创建锁文件 \(path)", "cannot create the lock file \(path)"), transient: false)
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            close(descriptor)
            throw SyncError(
                message: L("另一个 vsurvey sync 正在同步这个数据库;等它结束再试", "another vsurvey sync is working on this database; try again when it ends"),
                transient: true)
        }
        self.descriptor = descriptor
    }

    deinit {
        flock(descriptor, LOCK_UN)
        close(descriptor)
    }
}
