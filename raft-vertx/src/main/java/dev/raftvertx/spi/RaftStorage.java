package dev.raftvertx.spi;

import dev.raftvertx.core.StorageWrite;
import io.vertx.core.Future;

/**
 * The durable state of one Raft node: its identity, its {@link dev.raftvertx.core.HardState}
 * (term and vote) and its log. The log may start after index 1 once a snapshot (kept by a
 * {@link SnapshotStore}) covers its prefix: see {@link #compact} and {@link #reset}.
 *
 * <p><b>Threading:</b> an instance is used by one node. {@link #open} binds it to the Vert.x
 * context that calls it (a new event-loop context if called from outside Vert.x); every returned
 * {@link Future} completes on that context. The other methods may be called from any thread: they
 * run on that context, in the order they were called. No method blocks the calling thread;
 * blocking file system calls run on worker threads.
 *
 * <p><b>Durability:</b> a future returned by {@link #write} succeeds only once the write is on
 * stable storage (fsynced, including the directory entries of files it created or deleted), so it
 * survives a crash or power loss. After a crash, {@link #open} returns a state that contains every
 * write whose future succeeded. After any I/O error the storage refuses further writes: the node
 * must stop and reopen it, which recovers from the files on disk.
 */
public interface RaftStorage {

  /**
   * Opens the storage and recovers the durable state. Call once, before anything else.
   *
   * <p>On first use it creates the data directory and durably records the identity
   * ({@code clusterId}, {@code nodeId}). On later opens it checks that the recorded identity
   * matches and fails with a {@link StorageException} naming both otherwise. It takes an
   * exclusive lock on the data directory, so a second storage on the same directory, in this
   * process or another, fails with a {@link StorageException}. A torn tail left by a crash in the
   * middle of a write is cut off durably; damage that a crash cannot explain fails with a
   * {@link CorruptLogException}.
   *
   * <p>Threading: binds the storage to the calling context (see the type's documentation).
   *
   * @param clusterId the cluster this node belongs to
   * @param nodeId this node's id
   * @return the recovered identity, hard state and log; a failed future leaves the lock released
   */
  Future<StoredState> open(String clusterId, String nodeId);

  /**
   * Makes a write durable: first deletes every entry with index {@code >= w.truncateFrom()} if
   * that is above 0, then appends {@code w.entries()}, then records {@code w.hardState()} if it is
   * not null.
   *
   * <p>Writes must be issued in increasing {@link StorageWrite#sequence()} order. They may be
   * pipelined: a caller need not wait for one write to complete before issuing the next, and the
   * returned futures complete in the order the writes were issued. Writes that arrive while an
   * fsync is running share the next fsync (group commit).
   *
   * <p>A write is refused with an {@link IllegalArgumentException}, without harm to the storage,
   * if its sequence does not increase, its entries are not contiguous, it lowers the term, or it
   * appends entries of a term above the current term (the term the write's hard state records,
   * or the one before it). A write whose first entry does not continue the log (after its
   * truncation) fails the storage like an I/O error.
   *
   * <p>Threading: may be called from any thread; completes on the storage's context.
   *
   * <p>Durability: the future succeeds only when the truncation, the entries and the hard state of
   * this write and of every earlier write are durable. A truncation is made durable before the
   * entries that follow it are written. If anything fails (I/O error, disk full, fsync failure),
   * every write not yet reported durable fails, and so does every later one: the storage stays
   * failed until reopened, and an fsync is never retried.
   *
   * @param w the write
   * @return a future completed once the write is durable
   */
  Future<Void> write(StorageWrite w);

  /**
   * Deletes a log prefix that a durable snapshot covers: every whole segment whose entries are all
   * at or below {@code snapshotIndex}, except the last (active) segment, which is always kept.
   * Entries above {@code snapshotIndex} are never deleted, and neither are entries at or below it
   * that share a segment with a later entry, so the log may still start below
   * {@code snapshotIndex + 1} afterwards (see {@link StoredState#firstIndex()}).
   *
   * <p>Call it only once the snapshot covering {@code snapshotIndex} and its metadata are durable
   * (see {@link SnapshotStore}); the entries deleted are gone for good. It is ordered with
   * {@link #write}s: it runs after every write issued before it and before every write issued
   * after it, and its future completes in that order too. Appends issued meanwhile are not
   * refused; they wait for it in the pipeline.
   *
   * <p>Threading: may be called from any thread; completes on the storage's context.
   *
   * <p>Durability: the future succeeds once the deletion is durable; a crash at any point leaves
   * either the whole log or the log without that prefix, never a log with a gap. An I/O error
   * fails the storage as for {@link #write}.
   *
   * @param snapshotIndex the last index included in a durable snapshot
   * @return a future completed once the prefix is durably deleted (at once, in order, if nothing
   *     can be deleted)
   */
  Future<Void> compact(long snapshotIndex);

  /**
   * Discards the whole log, so that the next entry appended must have index {@code nextIndex}: a
   * follower installing a snapshot that its log does not contain (the snapshot's last included
   * entry is beyond the log's end, or its term differs) resets the log to the index after the
   * snapshot. The hard state is kept.
   *
   * <p>Call it only once the installed snapshot is durable. Ordered with {@link #write}s like
   * {@link #compact}; it first waits until every earlier write is durable.
   *
   * <p>Threading: may be called from any thread; completes on the storage's context.
   *
   * <p>Durability: the future succeeds once the empty log and its new start are durable, so a
   * reopen returns no entries and {@link StoredState#firstIndex()} {@code == nextIndex}. The log's
   * segments are deleted last first, each deletion made durable before the next, so a crash in
   * the middle leaves a prefix of the old log (which the node reconciles with its snapshot as it
   * would after a crash just before the reset). An I/O error fails the storage as for
   * {@link #write}.
   *
   * @param nextIndex the index of the next entry to append, at least 1
   * @return a future completed once the reset is durable
   */
  Future<Void> reset(long nextIndex);

  /**
   * Closes the storage: waits until every issued write has completed (durably or not), closes the
   * files and releases the directory lock. Writes issued after this call fail. Calling it again
   * returns the same future.
   *
   * <p>Threading: may be called from any thread; completes on the storage's context.
   *
   * @return a future completed once the files are closed and the lock is released
   */
  Future<Void> close();
}
