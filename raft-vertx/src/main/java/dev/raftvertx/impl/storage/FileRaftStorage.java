package dev.raftvertx.impl.storage;

import dev.raftvertx.core.HardState;
import dev.raftvertx.core.LogEntry;
import dev.raftvertx.core.StorageWrite;
import dev.raftvertx.spi.CorruptLogException;
import dev.raftvertx.spi.RaftStorage;
import dev.raftvertx.spi.StorageException;
import dev.raftvertx.spi.StoredState;
import io.netty.buffer.Unpooled;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.internal.buffer.BufferInternal;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.function.Supplier;

/**
 * A {@link RaftStorage} on local files, with Vert.x asynchronous file I/O only: it never blocks
 * the event loop.
 *
 * <p><b>Data directory:</b>
 * <ul>
 *   <li>{@code lock}: held with an operating-system file lock while the storage is open;</li>
 *   <li>{@code state}: identity and hard state, two checksummed copies ({@link StateFileFormat});
 *     created once as {@code state.tmp}, fsynced, atomically renamed, then the directory fsynced,
 *     so that the identity is either absent or complete;</li>
 *   <li>{@code log-<first index, 20 digits>.seg}: the log, one record per entry
 *     ({@link LogRecordFormat}), in segments rolled once {@code maxSegmentSize} would be exceeded
 *     (a single write is never split, so one larger than that gets a segment of its own). The
 *     active segment is preallocated: zeros are written ahead of the records, 1 MiB at a time, in
 *     the same file write as the records, so that most fsyncs need not change the file's size.
 *     A segment is trimmed to its records and fsynced before the next one is created.</li>
 *   <li>{@code log-start}: present once the log has been compacted or reset: the index below which
 *     the log holds no entry ({@link LogStartFormat}), replaced atomically (written as
 *     {@code log-start.tmp}, fsynced, renamed, directory fsynced).</li>
 * </ul>
 *
 * <p><b>Compaction and reset:</b> {@link #compact} first records the new start (the first index
 * of the first segment it keeps) durably in {@code log-start}, then deletes the covered segments
 * and lets the group fsync make the directory durable. A crash between the two leaves segments
 * wholly below the recorded start; {@link #open} deletes them, so the deletions may reach the disk
 * in any order without leaving a gap. {@link #reset} runs behind a barrier and deletes every
 * segment last first, each deletion followed by a directory fsync (like a truncation: a crash
 * leaves a prefix of the old log), then records the new start.
 *
 * <p><b>Write pipeline and group commit:</b> writes are applied (truncate, append, hard state) one
 * after the other, each as one file write of one buffer encoding all its entries, without waiting
 * for fsyncs. The file writes of appends, and of hard states that join the group fsync, are issued
 * without waiting for them to complete: a {@link StorageFileSystem.FileHandle} runs its writes in
 * call order and a force covers every write issued before it. Applied writes wait for an fsync; an
 * fsync starts, in a later task on the storage's context (so that it covers every write issued in
 * the current one), as soon as none is running and no write is being applied (or many are
 * waiting), and covers every write applied before it started: writes that arrive while an fsync
 * runs are grouped into the next one. A group is durable once its file writes and the forces
 * issued after them have succeeded. Futures complete in write
 * order, when the fsync covering the write succeeds. Some writes first wait until everything
 * before them is durable (a barrier): a truncation (then made durable on its own, before anything
 * is appended after it), a segment roll, and a hard state change while an earlier one is not yet
 * durable (a state copy may only overwrite the slot that does not hold the durable copy).
 *
 * <p><b>Hard state ordering:</b> a hard state that raises the term is written and fsynced before
 * the entries of its write: otherwise entries of the new term could reach the disk before the
 * term itself, and a restarted node could hold entries of a term above its current term. A state
 * change within the same term (a vote) joins the group fsync.
 *
 * <p><b>Failures:</b> after any I/O error every write not yet reported durable fails, and every
 * later one is refused: an fsync is never retried (after a failed fsync the page cache may already
 * have dropped the data). Reopening recovers from what is on disk.
 *
 * <p><b>Threading:</b> see {@link RaftStorage}; all state is confined to the context that called
 * {@link #open}.
 */
public final class FileRaftStorage implements RaftStorage {

  /** The default size at which segments are rolled: 64 MiB. */
  public static final long DEFAULT_MAX_SEGMENT_SIZE = 64L << 20;
  /** The smallest accepted segment size. */
  public static final long MIN_SEGMENT_SIZE = 1024;
  /** The largest accepted segment size. */
  public static final long MAX_SEGMENT_SIZE = 1L << 30;

  static final String LOCK_FILE = "lock";
  static final String STATE_FILE = "state";
  static final String STATE_TMP = "state.tmp";
  static final String LOG_START_FILE = "log-start";
  static final String LOG_START_TMP = "log-start.tmp";

  /** Zeros written ahead of the records in the active segment, per extension. */
  private static final long PREALLOCATION_STEP = 1L << 20;
  /** The zeros of preallocation, shared and never written to: no MiB array per extension. */
  private static final byte[] ZEROS = new byte[(int) PREALLOCATION_STEP];
  /** Applied writes after which an fsync starts even if more writes are being applied. */
  private static final int MAX_GROUP = 256;
  /** Upper bound on the encoded entries of one write (one buffer, plus preallocation). */
  private static final long MAX_WRITE_BYTES = Integer.MAX_VALUE - PREALLOCATION_STEP;

  private static final System.Logger LOG = System.getLogger(FileRaftStorage.class.getName());

  private enum Phase { NEW, OPENING, OPEN, CLOSING, CLOSED }

  /** A write, or a compaction or reset, in the pipeline. */
  private static final class PendingWrite {
    /** The write; null for a compaction or reset. */
    final StorageWrite write;
    /** Applies a compaction or reset; null for a write. */
    final Supplier<Future<Void>> maintenance;
    /** Whether a maintenance operation waits until everything before it is durable. */
    final boolean barrier;
    /** Names it in error messages. */
    final String name;
    final long recordBytes;
    final Promise<Void> promise = Promise.promise();
    StorageException error;

    PendingWrite(StorageWrite write, long recordBytes) {
      this.write = write;
      this.maintenance = null;
      this.barrier = false;
      this.name = "write " + write.sequence();
      this.recordBytes = recordBytes;
    }

    PendingWrite(String name, boolean barrier, Supplier<Future<Void>> maintenance) {
      this.write = null;
      this.maintenance = maintenance;
      this.barrier = barrier;
      this.name = name;
      this.recordBytes = 0;
    }
  }

  private final Vertx vertx;
  private final String dir;
  private final long maxSegmentSize;
  private final StorageFileSystem fs;
  private final LogRecordFormat format = new LogRecordFormat();

  private volatile Context context;

  // ---- everything below is confined to the context ----
  private Phase phase = Phase.NEW;
  private Future<StoredState> openFuture;
  private Promise<Void> closePromise;
  private StorageFileSystem.DirectoryLock lock;

  private String clusterId;
  private String nodeId;
  /** The last hard state written (durable or not). */
  private HardState hardState;
  private StorageFileSystem.FileHandle stateHandle;
  private long stateCounter;
  /** The slot holding the durable copy; updates go to the other one. */
  private int durableSlot;
  /** The slot of the last copy written. */
  private int writtenSlot;
  private boolean stateDurable = true;
  private boolean stateDirty;

  private final List<Segment> segments = new ArrayList<>();
  /**
   * The index the next appended entry must have, or 0 while the log has never held any and has
   * never been compacted or reset.
   */
  private long nextIndex;
  /** The start recorded in {@code log-start}, or 0 if the log was never compacted or reset. */
  private long logStart;
  /** The active segment's handle if it has writes no fsync covers yet. */
  private StorageFileSystem.FileHandle dirtyLog;
  private boolean dirDirty;

  private long lastSequence = Long.MIN_VALUE;
  /** The term once every accepted write is applied. */
  private long acceptedTerm;
  private final ArrayDeque<PendingWrite> toApply = new ArrayDeque<>();
  private PendingWrite applying;
  private final ArrayDeque<PendingWrite> unsynced = new ArrayDeque<>();
  /** The file writes issued for the applied writes in {@link #unsynced}, not yet completed. */
  private final List<Future<Void>> unsyncedFileWrites = new ArrayList<>();
  private List<PendingWrite> syncing;
  /** Whether a task that may start the next fsync is queued on the context. */
  private boolean syncTurnQueued;
  /** Set only while that task runs: the fsync may start now. */
  private boolean syncTurn;
  private StorageException failure;
  private boolean pumping;
  private boolean pumpAgain;

  /**
   * @param vertx the Vert.x instance
   * @param dataDir the data directory, created on first use
   * @param maxSegmentSize the size at which log segments are rolled, between
   *     {@link #MIN_SEGMENT_SIZE} and {@link #MAX_SEGMENT_SIZE}
   * @param fs the file operations to use ({@link VertxStorageFileSystem} outside tests)
   */
  public FileRaftStorage(Vertx vertx, Path dataDir, long maxSegmentSize, StorageFileSystem fs) {
    this.vertx = Objects.requireNonNull(vertx, "vertx");
    this.dir = dataDir.toAbsolutePath().normalize().toString();
    if (maxSegmentSize < MIN_SEGMENT_SIZE || maxSegmentSize > MAX_SEGMENT_SIZE) {
      throw new IllegalArgumentException("maxSegmentSize must be in [" + MIN_SEGMENT_SIZE + ", "
          + MAX_SEGMENT_SIZE + "]: " + maxSegmentSize);
    }
    this.maxSegmentSize = maxSegmentSize;
    this.fs = Objects.requireNonNull(fs, "fs");
  }

  /**
   * A storage with {@link #DEFAULT_MAX_SEGMENT_SIZE} on the real file system.
   *
   * @param vertx the Vert.x instance
   * @param dataDir the data directory, created on first use
   */
  public FileRaftStorage(Vertx vertx, Path dataDir) {
    this(vertx, dataDir, DEFAULT_MAX_SEGMENT_SIZE, new VertxStorageFileSystem(vertx));
  }

  // =====================================================================================
  // Open
  // =====================================================================================

  @Override
  public Future<StoredState> open(String clusterId, String nodeId) {
    Objects.requireNonNull(clusterId, "clusterId");
    Objects.requireNonNull(nodeId, "nodeId");
    try {
      StateFileFormat.checkStorable(clusterId, "clusterId");
      StateFileFormat.checkStorable(nodeId, "nodeId");
    } catch (IllegalArgumentException e) {
      return Future.failedFuture(e);
    }
    synchronized (this) {
      if (context != null) {
        return Future.failedFuture(new IllegalStateException("open() may be called only once"));
      }
      context = ContextFutures.base(vertx.getOrCreateContext());
    }
    return onContext(() -> doOpen(clusterId, nodeId));
  }

  private Future<StoredState> doOpen(String clusterId, String nodeId) {
    phase = Phase.OPENING;
    openFuture = fs.mkdirs(dir)
        .compose(v -> fs.lock(path(LOCK_FILE)))
        .compose(l -> {
          lock = l;
          return fs.list(dir);
        })
        .compose(names -> loadOrCreateState(names, clusterId, nodeId)
            .compose(v -> recoverLog(names)))
        .compose(entries -> {
          if (!entries.isEmpty()) {
            LogEntry last = entries.get(entries.size() - 1);
            if (last.term() > hardState.currentTerm()) {
              return Future.failedFuture(new CorruptLogException("the last log entry (index "
                  + last.index() + ") has term " + last.term() + ", above the recorded current"
                  + " term " + hardState.currentTerm() + " in " + path(STATE_FILE), dir));
            }
          }
          acceptedTerm = hardState.currentTerm();
          phase = Phase.OPEN;
          long firstIndex = !entries.isEmpty() ? entries.get(0).index()
              : logStart > 0 ? logStart : 1;
          return Future.succeededFuture(new StoredState(clusterId, nodeId, hardState, firstIndex,
              entries));
        })
        .recover(err -> releaseResources().transform(ar -> {
          phase = Phase.CLOSED;
          return Future.failedFuture(err);
        }));
    return openFuture;
  }

  private Future<Void> loadOrCreateState(List<String> names, String clusterId, String nodeId) {
    Future<Void> cleaned = names.contains(STATE_TMP)
        ? fs.delete(path(STATE_TMP)) : Future.succeededFuture();
    if (names.contains(STATE_FILE)) {
      return cleaned.compose(v -> loadState(clusterId, nodeId));
    }
    for (String name : names) {
      if (Segment.parseFirstIndex(name) > 0) {
        return Future.failedFuture(new CorruptLogException("log segments exist but the state file "
            + path(STATE_FILE) + " is missing", dir));
      }
    }
    return cleaned.compose(v -> createState(clusterId, nodeId));
  }

  /** First use: records the identity, atomically and durably. */
  private Future<Void> createState(String clusterId, String nodeId) {
    StateFileFormat.Copy copy = new StateFileFormat.Copy(0, clusterId, nodeId, HardState.INITIAL);
    String tmp = path(STATE_TMP);
    Path parent = Path.of(dir).getParent();
    return fs.open(tmp)
        .compose(h -> ContextFutures.closeAfter(h, h.write(StateFileFormat.encode(copy), 0)
            .compose(v -> h.force())))
        .compose(v -> fs.move(tmp, path(STATE_FILE)))
        .compose(v -> fs.fsyncDirectory(dir))
        .compose(v -> parent == null
            ? Future.succeededFuture() : fs.fsyncDirectory(parent.toString()))
        .compose(v -> openState(copy, 0));
  }

  private Future<Void> loadState(String clusterId, String nodeId) {
    return fs.readFile(path(STATE_FILE)).compose(content -> {
      StateFileFormat.Copy first = StateFileFormat.decode(content, 0);
      StateFileFormat.Copy second = StateFileFormat.decode(content, 1);
      if (first == null && second == null) {
        return Future.failedFuture(new CorruptLogException("the state file " + path(STATE_FILE)
            + " holds no valid copy of the identity and hard state", dir));
      }
      int slot = second == null || (first != null && first.counter() > second.counter()) ? 0 : 1;
      StateFileFormat.Copy copy = slot == 0 ? first : second;
      if (!copy.clusterId().equals(clusterId) || !copy.nodeId().equals(nodeId)) {
        return Future.failedFuture(new StorageException("the data directory " + dir
            + " belongs to node '" + copy.nodeId() + "' of cluster '" + copy.clusterId()
            + "'; refusing to open it as node '" + nodeId + "' of cluster '" + clusterId
            + "'. Use that node's own data directory"));
      }
      return openState(copy, slot);
    });
  }

  private Future<Void> openState(StateFileFormat.Copy copy, int slot) {
    clusterId = copy.clusterId();
    nodeId = copy.nodeId();
    hardState = copy.hardState();
    stateCounter = copy.counter();
    durableSlot = slot;
    writtenSlot = slot;
    return fs.open(path(STATE_FILE)).map(h -> {
      stateHandle = h;
      return null;
    });
  }

  private Future<List<LogEntry>> recoverLog(List<String> names) {
    for (String name : names) {
      long first = Segment.parseFirstIndex(name);
      if (first > 0) {
        segments.add(new Segment(first, path(name)));
      }
    }
    segments.sort(Comparator.comparingLong(s -> s.firstIndex));
    Future<Void> cleaned = names.contains(LOG_START_TMP)
        ? fs.delete(path(LOG_START_TMP)) : Future.succeededFuture();
    if (names.contains(LOG_START_FILE)) {
      cleaned = cleaned.compose(v -> fs.readFile(path(LOG_START_FILE))).compose(content -> {
        logStart = LogStartFormat.decode(content);
        if (logStart < 0) {
          return Future.failedFuture(new CorruptLogException("the log start file "
              + path(LOG_START_FILE) + " is damaged", dir));
        }
        return dropCompactedSegments();
      });
    }
    return cleaned.compose(v -> new LogRecovery(fs, dir, segments).run()).map(entries -> {
      nextIndex = !entries.isEmpty() ? entries.get(entries.size() - 1).index() + 1 : logStart;
      return entries;
    });
  }

  /**
   * Deletes the segments wholly below the recorded log start (left by a crash in the middle of a
   * compaction) and checks that the log then starts exactly there.
   */
  private Future<Void> dropCompactedSegments() {
    List<Segment> covered = new ArrayList<>();
    while (segments.size() > 1 && segments.get(1).firstIndex <= logStart) {
      covered.add(segments.remove(0));
    }
    if (!segments.isEmpty() && segments.get(0).firstIndex != logStart) {
      return Future.failedFuture(new CorruptLogException("the log should start at index "
          + logStart + " (recorded in " + path(LOG_START_FILE) + ") but its first segment, "
          + segments.get(0).path + ", starts at index " + segments.get(0).firstIndex, dir));
    }
    if (covered.isEmpty()) {
      return Future.succeededFuture();
    }
    LOG.log(System.Logger.Level.INFO, "Deleting " + covered.size() + " log segment(s) of "
        + dir + " below the log start " + logStart + " (a compaction interrupted by a crash)");
    Future<Void> f = Future.succeededFuture();
    for (Segment s : covered) {
      f = f.compose(v -> fs.delete(s.path));
    }
    return f.compose(v -> fs.fsyncDirectory(dir));
  }

  // =====================================================================================
  // Write pipeline
  // =====================================================================================

  @Override
  public Future<Void> write(StorageWrite w) {
    Objects.requireNonNull(w, "w");
    if (context == null) {
      return Future.failedFuture(new IllegalStateException("open() the storage first"));
    }
    return onContext(() -> enqueue(w));
  }

  @Override
  public Future<Void> compact(long snapshotIndex) {
    if (context == null) {
      return Future.failedFuture(new IllegalStateException("open() the storage first"));
    }
    return onContext(() -> enqueueMaintenance(new PendingWrite(
        "compaction up to index " + snapshotIndex, false, () -> compactTo(snapshotIndex))));
  }

  @Override
  public Future<Void> reset(long nextIndex) {
    if (nextIndex < 1) {
      return Future.failedFuture(new IllegalArgumentException("nextIndex must be at least 1: "
          + nextIndex));
    }
    if (context == null) {
      return Future.failedFuture(new IllegalStateException("open() the storage first"));
    }
    return onContext(() -> enqueueMaintenance(new PendingWrite(
        "reset to index " + nextIndex, true, () -> resetTo(nextIndex))));
  }

  private Future<Void> enqueueMaintenance(PendingWrite p) {
    Future<Void> refused = refuseIfNotWritable();
    if (refused != null) {
      return refused;
    }
    toApply.addLast(p);
    pump();
    return p.promise.future();
  }

  /** @return a failed future if the storage takes no writes now, else null */
  private Future<Void> refuseIfNotWritable() {
    if (phase != Phase.OPEN) {
      return Future.failedFuture(new IllegalStateException("the storage is not open (" + phase
          + ")"));
    }
    if (failure != null) {
      return Future.failedFuture(refusal());
    }
    return null;
  }

  private Future<Void> enqueue(StorageWrite w) {
    Future<Void> refused = refuseIfNotWritable();
    if (refused != null) {
      return refused;
    }
    if (w.sequence() <= lastSequence) {
      return Future.failedFuture(new IllegalArgumentException("write sequence " + w.sequence()
          + " does not follow the previous one, " + lastSequence));
    }
    long bytes = 0;
    List<LogEntry> entries = w.entries();
    for (int i = 0; i < entries.size(); i++) {
      if (i > 0 && entries.get(i).index() != entries.get(i - 1).index() + 1) {
        return Future.failedFuture(new IllegalArgumentException("write " + w.sequence()
            + " holds non-contiguous entries: " + entries.get(i - 1).index() + " then "
            + entries.get(i).index()));
      }
      bytes += LogRecordFormat.recordSize(entries.get(i));
    }
    if (bytes > MAX_WRITE_BYTES) {
      return Future.failedFuture(new IllegalArgumentException("write " + w.sequence()
          + " encodes to " + bytes + " bytes, above the limit of " + MAX_WRITE_BYTES));
    }
    if (w.hardState() != null) {
      try {
        StateFileFormat.checkStorable(w.hardState().votedFor(), "votedFor");
      } catch (IllegalArgumentException e) {
        return Future.failedFuture(e);
      }
    }
    long term = w.hardState() != null ? w.hardState().currentTerm() : acceptedTerm;
    if (term < acceptedTerm) {
      return Future.failedFuture(new IllegalArgumentException("write " + w.sequence()
          + " lowers the term from " + acceptedTerm + " to " + term));
    }
    if (!entries.isEmpty() && entries.get(entries.size() - 1).term() > term) {
      return Future.failedFuture(new IllegalArgumentException("write " + w.sequence()
          + " appends entries of term " + entries.get(entries.size() - 1).term()
          + ", above the current term " + term + " (a new term belongs in the write's hard"
          + " state)"));
    }
    acceptedTerm = term;
    lastSequence = w.sequence();
    PendingWrite p = new PendingWrite(w, bytes);
    toApply.addLast(p);
    pump();
    return p.promise.future();
  }

  /** Advances the pipeline; re-entrant calls are folded into the running one. */
  private void pump() {
    if (pumping) {
      pumpAgain = true;
      return;
    }
    pumping = true;
    try {
      do {
        pumpAgain = false;
        pumpOnce();
      } while (pumpAgain);
    } finally {
      pumping = false;
    }
  }

  private void pumpOnce() {
    if (failure != null) {
      failAllPending();
    } else {
      if (applying == null && !toApply.isEmpty()) {
        PendingWrite next = toApply.peekFirst();
        if (!needsBarrier(next) || (syncing == null && unsynced.isEmpty())) {
          toApply.pollFirst();
          startApply(next);
        }
      }
      if (syncing == null && !unsynced.isEmpty()
          && (applying == null || unsynced.size() >= MAX_GROUP)) {
        if (syncTurn) {
          startSync();
        } else if (!syncTurnQueued) {
          // Start the fsync in a later task, so that it covers every write issued in this one.
          syncTurnQueued = true;
          context.runOnContext(v -> {
            syncTurnQueued = false;
            syncTurn = true;
            try {
              pump();
            } finally {
              syncTurn = false;
            }
          });
        }
      }
    }
    maybeFinishClose();
  }

  private boolean needsBarrier(PendingWrite p) {
    if (p.maintenance != null) {
      return p.barrier;
    }
    StorageWrite w = p.write;
    if (truncates(w.truncateFrom())) {
      return true;
    }
    if (!w.entries().isEmpty() && mustRoll(p.recordBytes)) {
      return true;
    }
    HardState hs = w.hardState();
    return hs != null && !hs.equals(hardState) && !stateDurable;
  }

  private boolean truncates(long from) {
    return from > 0 && !segments.isEmpty() && from <= active().lastIndex();
  }

  private boolean mustRoll(long bytes) {
    Segment a = active();
    return a == null || (a.count() > 0 && a.end + bytes > maxSegmentSize);
  }

  private void startApply(PendingWrite p) {
    applying = p;
    Future<Void> applied;
    try {
      applied = p.maintenance != null ? p.maintenance.get() : apply(p);
    } catch (RuntimeException e) {
      applied = Future.failedFuture(e);
    }
    applied.onComplete(ar -> {
      if (ar.failed()) {
        p.error = new StorageException(p.name + " failed: "
            + ar.cause().getMessage() + "; this storage refuses further writes: reopen it to"
            + " recover", ar.cause());
        fail(p.error);
        failAllPending();
      } else if (failure == null) {
        unsynced.addLast(p);
      }
      applying = null;
      pump();
    });
  }

  /**
   * Truncate, append, record the hard state: everything but the final fsync. The appended records
   * and a hard state that joins the group fsync are file writes issued, not awaited: the file
   * handle runs them in order, and the group fsync waits for them.
   */
  private Future<Void> apply(PendingWrite p) {
    StorageWrite w = p.write;
    long recordBytes = p.recordBytes;
    boolean cut = truncates(w.truncateFrom());
    if (cut && w.truncateFrom() < logStart) {
      return Future.failedFuture(new IllegalArgumentException("write " + w.sequence()
          + " truncates from index " + w.truncateFrom() + ", below the log's start " + logStart
          + " (those entries are covered by a snapshot)"));
    }
    long next = cut ? w.truncateFrom() : nextIndex;
    List<LogEntry> entries = w.entries();
    if (!entries.isEmpty() && next != 0 && entries.get(0).index() != next) {
      return Future.failedFuture(new IllegalArgumentException("write " + w.sequence()
          + " appends index " + entries.get(0).index() + " but the log continues at " + next));
    }
    HardState hs = w.hardState();
    boolean stateChanges = hs != null && !hs.equals(hardState);
    boolean termRises = stateChanges && hs.currentTerm() > hardState.currentTerm();
    Future<Void> f = cut ? truncate(w.truncateFrom()) : Future.succeededFuture();
    if (termRises) {
      f = f.compose(v -> writeState(p, hs, true));
    }
    if (!entries.isEmpty()) {
      f = f.compose(v -> append(p, entries, recordBytes));
    }
    if (stateChanges && !termRises) {
      f = f.compose(v -> writeState(p, hs, false));
    }
    return f;
  }

  /**
   * Deletes every entry from index {@code from} on, durably. Runs behind a barrier: nothing is
   * waiting for an fsync. Later segments go first, last one first, each deletion followed by a
   * directory fsync; then the segment holding {@code from} is cut at its record and fsynced. A
   * crash at any step leaves a log that is a prefix of the old one, never one with a gap.
   */
  private Future<Void> truncate(long from) {
    int k = segments.size() - 1;
    while (k > 0 && segments.get(k).firstIndex > from) {
      k--;
    }
    Segment s = segments.get(k);
    boolean whole = from <= s.firstIndex;
    Future<Void> f = deleteSegmentsFrom(whole ? k : k + 1);
    if (!whole) {
      f = f.compose(v -> cutSegment(s, from));
    }
    return f.map(v -> {
      nextIndex = from;
      return null;
    });
  }

  /** Deletes the segments from position keep on, last first, each followed by a directory fsync. */
  private Future<Void> deleteSegmentsFrom(int keep) {
    if (segments.size() <= keep) {
      return Future.succeededFuture();
    }
    Segment last = active();
    return closeHandle(last)
        .compose(v -> fs.delete(last.path))
        .compose(v -> fs.fsyncDirectory(dir))
        .compose(v -> {
          segments.remove(segments.size() - 1);
          return deleteSegmentsFrom(keep);
        });
  }

  private Future<Void> cutSegment(Segment s, long from) {
    long offset = s.offsetOf(from);
    return ensureOpen(s)
        .compose(h -> fs.truncate(s.path, offset))
        .compose(v -> s.handle.force())
        .map(v -> {
          s.cutAt(from);
          s.allocated = offset;
          return null;
        });
  }

  /**
   * Appends the entries with one file write into the active segment, rolling it if needed. The
   * write is issued, not awaited ({@link #issued}).
   */
  private Future<Void> append(PendingWrite p, List<LogEntry> entries, long recordBytes) {
    Future<Segment> target = mustRoll(recordBytes)
        ? roll(entries.get(0).index()) : ensureOpen(active());
    return target.compose(s -> {
      long pos = s.end;
      long recordsEnd = pos + recordBytes;
      long writeEnd = recordsEnd;
      if (recordsEnd > s.allocated) {
        long ahead = (recordsEnd / PREALLOCATION_STEP + 1) * PREALLOCATION_STEP;
        writeEnd = Math.max(recordsEnd, Math.min(ahead, maxSegmentSize));
      }
      byte[] bytes = new byte[Math.toIntExact(recordBytes)];
      ByteBuffer buf = ByteBuffer.wrap(bytes);
      int off = 0;
      for (LogEntry e : entries) {
        off = format.encode(e, buf, off);
      }
      int zeros = Math.toIntExact(writeEnd - recordsEnd); // at most PREALLOCATION_STEP
      Buffer data = zeros == 0 ? Buffer.buffer(bytes)
          : BufferInternal.buffer(Unpooled.wrappedBuffer(ByteBuffer.wrap(bytes),
              ByteBuffer.wrap(ZEROS, 0, zeros).asReadOnlyBuffer()));
      long newAllocated = Math.max(s.allocated, writeEnd);
      issued(p, s.handle.write(data, pos));
      long at = pos;
      for (LogEntry e : entries) {
        s.add(at);
        at += LogRecordFormat.recordSize(e);
      }
      s.end = recordsEnd;
      s.allocated = newAllocated;
      nextIndex = entries.get(entries.size() - 1).index() + 1;
      dirtyLog = s.handle;
      return Future.succeededFuture();
    });
  }

  /**
   * Records a file write of an applied write: the group fsync covering the write waits for it,
   * and its failure fails the storage at once.
   */
  private void issued(PendingWrite p, Future<Void> fileWrite) {
    unsyncedFileWrites.add(fileWrite);
    fileWrite.onFailure(err -> {
      if (failure == null) {
        p.error = new StorageException(p.name + " failed: " + err.getMessage()
            + "; this storage refuses further writes: reopen it to recover", err);
        fail(p.error);
        failAllPending();
        pump();
      }
    });
  }

  /**
   * Seals the active segment (trims its preallocated zeros, fsyncs, closes it) and creates the
   * next. Runs behind a barrier, so the sealed segment is durable before the new one exists.
   */
  private Future<Segment> roll(long firstIndex) {
    Segment old = active();
    Future<Void> sealed = Future.succeededFuture();
    if (old != null) {
      if (old.allocated > old.end) {
        sealed = ensureOpen(old)
            .compose(h -> fs.truncate(old.path, old.end))
            .compose(v -> old.handle.force())
            .map(v -> {
              old.allocated = old.end;
              return null;
            });
      }
      sealed = sealed.compose(v -> closeHandle(old));
    }
    Segment s = new Segment(firstIndex, path(Segment.fileName(firstIndex)));
    return sealed.compose(v -> fs.open(s.path)).map(h -> {
      s.handle = h;
      segments.add(s);
      dirDirty = true;
      return s;
    });
  }

  /**
   * Deletes the segments, except the last, whose entries are all at or below snapshotIndex: first
   * records the new start durably, then deletes them; the group fsync makes the directory durable.
   */
  private Future<Void> compactTo(long snapshotIndex) {
    int covered = 0;
    while (covered < segments.size() - 1
        && segments.get(covered + 1).firstIndex - 1 <= snapshotIndex) {
      covered++;
    }
    if (covered == 0) {
      return Future.succeededFuture();
    }
    List<Segment> deleted = new ArrayList<>(segments.subList(0, covered));
    long start = segments.get(covered).firstIndex;
    return writeLogStart(start).compose(v -> {
      segments.subList(0, deleted.size()).clear();
      dirDirty = true;
      Future<Void> f = Future.succeededFuture();
      for (Segment s : deleted) {
        f = f.compose(x -> closeHandle(s)).compose(x -> fs.delete(s.path));
      }
      return f;
    });
  }

  /** Deletes the whole log, last segment first, then records the new start. */
  private Future<Void> resetTo(long next) {
    return deleteSegmentsFrom(0)
        .compose(v -> writeLogStart(next))
        .map(v -> {
          nextIndex = next;
          return null;
        });
  }

  /** Replaces {@code log-start} atomically and durably. */
  private Future<Void> writeLogStart(long start) {
    String tmp = path(LOG_START_TMP);
    return fs.open(tmp)
        .compose(h -> ContextFutures.closeAfter(h, h.write(LogStartFormat.encode(start), 0)
            .compose(v -> h.force())))
        .compose(v -> fs.move(tmp, path(LOG_START_FILE)))
        .compose(v -> fs.fsyncDirectory(dir))
        .map(v -> {
          logStart = start;
          return null;
        });
  }

  /**
   * Writes a new copy of the hard state into the slot that does not hold the durable copy.
   *
   * @param p the write it belongs to
   * @param forceNow fsync it before returning, instead of leaving it to the group fsync (then the
   *     file write is issued, not awaited, like an append)
   */
  private Future<Void> writeState(PendingWrite p, HardState hs, boolean forceNow) {
    int slot = 1 - durableSlot;
    long counter = stateCounter + 1;
    Buffer copy = StateFileFormat.encode(new StateFileFormat.Copy(counter, clusterId, nodeId, hs));
    Future<Void> written = stateHandle.write(copy, (long) slot * StateFileFormat.SLOT_SIZE);
    if (!forceNow) {
      issued(p, written);
      stateCounter = counter;
      hardState = hs;
      writtenSlot = slot;
      stateDirty = true;
      stateDurable = false;
      return Future.succeededFuture();
    }
    return written.compose(v -> {
      stateCounter = counter;
      hardState = hs;
      writtenSlot = slot;
      return stateHandle.force().map(x -> {
        durableSlot = slot;
        return null;
      });
    });
  }

  /** One fsync round for every applied write: the active segment, the state file, the directory. */
  private void startSync() {
    List<PendingWrite> group = new ArrayList<>(unsynced);
    unsynced.clear();
    syncing = group;
    // The group is durable once its file writes succeeded and the fsyncs issued after them did.
    List<Future<Void>> forces = new ArrayList<>(unsyncedFileWrites);
    unsyncedFileWrites.clear();
    if (dirtyLog != null) {
      forces.add(dirtyLog.force());
      dirtyLog = null;
    }
    boolean forcesState = stateDirty;
    int slot = writtenSlot;
    if (stateDirty) {
      forces.add(stateHandle.force());
      stateDirty = false;
    }
    boolean forcesDir = dirDirty;
    dirDirty = false;
    Future<Void> synced = forces.isEmpty()
        ? Future.succeededFuture() : Future.join(forces).mapEmpty();
    if (forcesDir) {
      synced = synced.compose(v -> fs.fsyncDirectory(dir));
    }
    synced.onComplete(ar -> {
      syncing = null;
      if (ar.succeeded()) {
        if (forcesState) {
          durableSlot = slot;
          stateDurable = true;
        }
        for (PendingWrite p : group) {
          p.promise.tryComplete();
        }
      } else {
        StorageException e = new StorageException("fsync failed, so writes up to "
            + group.get(group.size() - 1).name + " may not be durable: "
            + ar.cause().getMessage() + "; this storage refuses further writes: reopen it to"
            + " recover", ar.cause());
        for (PendingWrite p : group) {
          p.promise.tryFail(e);
        }
        fail(e);
      }
      pump();
    });
  }

  private void fail(StorageException e) {
    if (failure == null) {
      failure = e;
      LOG.log(System.Logger.Level.ERROR, "Storage in " + dir + " failed", e);
    }
  }

  /** Fails, in write order, every write not yet reported durable. */
  private void failAllPending() {
    if (syncing != null) {
      for (PendingWrite p : syncing) {
        p.promise.tryFail(p.error != null ? p.error : refusal());
      }
    }
    for (PendingWrite p : unsynced) {
      p.promise.tryFail(p.error != null ? p.error : refusal());
    }
    unsynced.clear();
    if (applying != null) {
      applying.promise.tryFail(applying.error != null ? applying.error : refusal());
    }
    for (PendingWrite p : toApply) {
      p.promise.tryFail(refusal());
    }
    toApply.clear();
  }

  private StorageException refusal() {
    return new StorageException("the storage in " + dir + " failed earlier and refuses writes"
        + " until reopened: " + failure.getMessage(), failure);
  }

  // =====================================================================================
  // Close
  // =====================================================================================

  @Override
  public Future<Void> close() {
    if (context == null) {
      return Future.succeededFuture();
    }
    return onContext(this::doClose);
  }

  private Future<Void> doClose() {
    if (phase == Phase.OPENING) {
      return openFuture.transform(ar -> doClose());
    }
    if (closePromise == null) {
      closePromise = Promise.promise();
      if (phase == Phase.OPEN) {
        phase = Phase.CLOSING;
        pump();
      } else {
        closePromise.complete();
      }
    }
    return closePromise.future();
  }

  private void maybeFinishClose() {
    if (phase != Phase.CLOSING || applying != null || syncing != null || !toApply.isEmpty()
        || !unsynced.isEmpty()) {
      return;
    }
    phase = Phase.CLOSED;
    releaseResources().onComplete(closePromise);
  }

  /** Closes every open file and releases the lock; reports the first error. */
  private Future<Void> releaseResources() {
    List<Future<Void>> closes = new ArrayList<>();
    for (Segment s : segments) {
      closes.add(closeHandle(s));
    }
    if (stateHandle != null) {
      closes.add(stateHandle.close());
      stateHandle = null;
    }
    return Future.join(closes).transform(closed -> {
      Future<Void> released = lock == null ? Future.succeededFuture() : lock.release();
      lock = null;
      return released.transform(ar -> ContextFutures.firstFailure(closed, ar));
    });
  }

  // =====================================================================================
  // Helpers
  // =====================================================================================

  private Segment active() {
    return segments.isEmpty() ? null : segments.get(segments.size() - 1);
  }

  private Future<Segment> ensureOpen(Segment s) {
    if (s.handle != null) {
      return Future.succeededFuture(s);
    }
    return fs.open(s.path).map(h -> {
      s.handle = h;
      return s;
    });
  }

  private static Future<Void> closeHandle(Segment s) {
    StorageFileSystem.FileHandle h = s.handle;
    if (h == null) {
      return Future.succeededFuture();
    }
    s.handle = null;
    return h.close();
  }

  private String path(String name) {
    return Path.of(dir, name).toString();
  }

  /**
   * Runs the action on the storage's context, at once if already there. A duplicated context of
   * it (Vert.x runs timers and event-bus handlers on those) counts as there: queueing a write from
   * one while writes from the context itself run at once would reorder them.
   */
  private <T> Future<T> onContext(Supplier<Future<T>> action) {
    return ContextFutures.onContext(context, action);
  }
}
