package dev.raftvertx.impl.storage;

import dev.raftvertx.spi.CorruptSnapshotException;
import dev.raftvertx.spi.SnapshotMeta;
import dev.raftvertx.spi.SnapshotOffsetException;
import dev.raftvertx.spi.SnapshotReader;
import dev.raftvertx.spi.SnapshotStore;
import dev.raftvertx.spi.SnapshotWriter;
import dev.raftvertx.spi.StorageException;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.streams.WriteStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.function.Supplier;
import java.util.zip.CRC32C;

/**
 * A {@link SnapshotStore} in a directory of its own (conventionally {@link #DIRECTORY} inside the
 * node's data directory, whose lock then covers it), with Vert.x asynchronous file I/O only: it
 * never blocks the event loop and never holds a snapshot's data in memory as a whole.
 *
 * <p><b>Files:</b> one file per snapshot, data then metadata ({@link SnapshotFileFormat}). A
 * snapshot is written to a temporary file; {@link SnapshotWriter#commit()} appends the metadata,
 * fsyncs the file, renames it to {@code snapshot-<index>-<term>.snap} and fsyncs the directory,
 * and only then deletes the previous snapshot. The latest snapshot is the committed file with the
 * highest index; a crash before the rename leaves only a temporary file, which {@link #load()}
 * deletes, and a crash after it leaves an older snapshot beside the new one, which {@link #load()}
 * deletes too. The deletion of an older snapshot is not fsynced: if a crash undoes it, the next
 * load deletes it again.
 *
 * <p><b>Readers of replaced snapshots:</b> a leader may be sending a snapshot (with
 * {@link #readChunk}) when a newer one is committed. Reads in progress and open
 * {@link SnapshotReader}s keep the old file open and undeleted until they are done; new reads of
 * it are refused, so that the transfer restarts with the latest snapshot.
 *
 * <p><b>Commits</b> run one at a time, in call order, so two snapshots committing at once (one
 * taken locally, one received) cannot both become the latest: the one whose index is not above
 * the latest when its turn comes is refused.
 *
 * <p><b>Threading:</b> see {@link SnapshotStore}; all state is confined to the context that
 * called {@link #load()}.
 */
public final class FileSnapshotStore implements SnapshotStore {

  /** The conventional name of the snapshot directory inside a node's data directory. */
  public static final String DIRECTORY = "snapshots";
  /** The default write queue size of a writer's stream, in bytes: 1 MiB. */
  public static final int DEFAULT_WRITE_QUEUE_MAX_SIZE = 1 << 20;
  /** The size of the chunks a {@link SnapshotReader} delivers. */
  static final int READ_CHUNK = 64 << 10;

  private static final System.Logger LOG = System.getLogger(FileSnapshotStore.class.getName());

  private enum Phase { NEW, LOADING, OPEN, CLOSED }

  private final Vertx vertx;
  private final String dir;
  private final StorageFileSystem fs;

  private volatile Context context;

  // ---- everything below is confined to the context ----
  private Phase phase = Phase.NEW;
  private Future<SnapshotMeta> loadFuture;
  private Future<Void> closeFuture;
  /** The latest committed snapshot, or null. */
  private Stored latest;
  /** Writers neither committed nor aborted. */
  private final Set<Writer> writers = new LinkedHashSet<>();
  private final Set<Reader> readers = new LinkedHashSet<>();
  /** The last commit in the chain that runs commits one at a time. */
  private Future<SnapshotMeta> commits = Future.succeededFuture();
  private long tmpCounter;

  /**
   * @param vertx the Vert.x instance
   * @param dir the snapshot directory, created on first use
   * @param fs the file operations to use ({@link VertxStorageFileSystem} outside tests)
   */
  public FileSnapshotStore(Vertx vertx, Path dir, StorageFileSystem fs) {
    this.vertx = Objects.requireNonNull(vertx, "vertx");
    this.dir = dir.toAbsolutePath().normalize().toString();
    this.fs = Objects.requireNonNull(fs, "fs");
  }

  /**
   * A store on the real file system.
   *
   * @param vertx the Vert.x instance
   * @param dir the snapshot directory, created on first use
   */
  public FileSnapshotStore(Vertx vertx, Path dir) {
    this(vertx, dir, new VertxStorageFileSystem(vertx));
  }

  // =====================================================================================
  // Load
  // =====================================================================================

  @Override
  public Future<SnapshotMeta> load() {
    synchronized (this) {
      if (context != null) {
        return Future.failedFuture(new IllegalStateException("load() may be called only once"));
      }
      context = vertx.getOrCreateContext();
    }
    return onContext(this::doLoad);
  }

  private Future<SnapshotMeta> doLoad() {
    phase = Phase.LOADING;
    Path parent = Path.of(dir).getParent();
    loadFuture = fs.mkdirs(dir)
        .compose(v -> parent == null
            ? Future.succeededFuture() : fs.fsyncDirectory(parent.toString()))
        .compose(v -> fs.list(dir))
        .compose(this::recover)
        .transform(ar -> {
          if (phase == Phase.LOADING) {
            phase = ar.succeeded() ? Phase.OPEN : Phase.CLOSED;
          }
          return ar.succeeded() ? Future.succeededFuture(ar.result())
              : Future.failedFuture(ar.cause());
        });
    return loadFuture;
  }

  /** Deletes temporary files and all but the newest snapshot; reads the newest's metadata. */
  private Future<SnapshotMeta> recover(List<String> names) {
    List<String> obsolete = new ArrayList<>();
    List<SnapshotFileFormat.Name> committed = new ArrayList<>();
    for (String name : names) {
      SnapshotFileFormat.Name parsed = SnapshotFileFormat.parse(name);
      if (parsed != null) {
        committed.add(parsed);
      } else if (SnapshotFileFormat.isTmp(name)) {
        obsolete.add(name);
      }
    }
    committed.sort(Comparator.comparingLong(SnapshotFileFormat.Name::index)
        .thenComparingLong(SnapshotFileFormat.Name::term).reversed());
    for (int i = 1; i < committed.size(); i++) {
      SnapshotFileFormat.Name n = committed.get(i);
      obsolete.add(SnapshotFileFormat.fileName(n.index(), n.term()));
    }
    Future<SnapshotMeta> newest = Future.succeededFuture();
    if (!committed.isEmpty()) {
      SnapshotFileFormat.Name n = committed.get(0);
      String path = path(SnapshotFileFormat.fileName(n.index(), n.term()));
      newest = readMeta(path, n).map(meta -> {
        latest = new Stored(meta, path);
        return meta;
      });
    }
    return newest.compose(meta -> {
      if (obsolete.isEmpty()) {
        return Future.succeededFuture(meta);
      }
      LOG.log(System.Logger.Level.INFO, "Deleting " + obsolete + " from " + dir
          + ": left by interrupted or replaced snapshots");
      Future<Void> f = Future.succeededFuture();
      for (String name : obsolete) {
        f = f.compose(v -> fs.delete(path(name)));
      }
      return f.compose(v -> fs.fsyncDirectory(dir)).map(meta);
    });
  }

  private Future<SnapshotMeta> readMeta(String path, SnapshotFileFormat.Name name) {
    return fs.open(path).compose(h -> ContextFutures.closeAfter(h, h.size().compose(size -> {
      if (size < SnapshotFileFormat.FOOTER_SIZE + SnapshotFileFormat.FIXED_META_SIZE) {
        return Future.failedFuture(new IllegalArgumentException("it is only " + size
            + " bytes long"));
      }
      return h.read(size - SnapshotFileFormat.FOOTER_SIZE, SnapshotFileFormat.FOOTER_SIZE)
          .compose(footer -> {
            int length = SnapshotFileFormat.metaLength(footer, size);
            long dataSize = size - SnapshotFileFormat.FOOTER_SIZE - length;
            return h.read(dataSize, length)
                .map(metadata -> SnapshotFileFormat.decodeMeta(metadata, dataSize));
          });
    }))).compose(meta -> {
      if (meta.index() != name.index() || meta.term() != name.term()) {
        return Future.failedFuture(new IllegalArgumentException("its metadata is for index "
            + meta.index() + " and term " + meta.term()));
      }
      return Future.succeededFuture(meta);
    }).recover(err -> Future.failedFuture(err instanceof IllegalArgumentException
        ? corrupt(path, err.getMessage())
        : new StorageException("reading snapshot " + path + " failed: " + err.getMessage(), err)));
  }

  private static CorruptSnapshotException corrupt(String path, String problem) {
    return new CorruptSnapshotException("the snapshot " + path + " is corrupt: " + problem
        + "; this node must not restore from it: wipe its data directory and re-add it as a new"
        + " member, or restore the directory from a backup");
  }

  // =====================================================================================
  // Queries and reads
  // =====================================================================================

  @Override
  public Future<SnapshotMeta> latest() {
    return onOpenContext(() -> Future.succeededFuture(latest == null ? null : latest.meta));
  }

  @Override
  public Future<Buffer> readChunk(SnapshotMeta meta, long offset, int length) {
    Objects.requireNonNull(meta, "meta");
    return onOpenContext(() -> {
      Stored s = current(meta);
      if (offset < 0 || offset > meta.size() || length < 1) {
        return Future.failedFuture(new IllegalArgumentException("cannot read " + length
            + " bytes at offset " + offset + " of a snapshot of " + meta.size() + " bytes"));
      }
      int n = (int) Math.min(length, meta.size() - offset);
      if (n == 0) {
        return Future.succeededFuture(Buffer.buffer());
      }
      return s.acquire()
          .compose(h -> h.read(offset, n))
          .andThen(ar -> s.release())
          .compose(b -> b.length() == n ? Future.succeededFuture(b)
              : Future.failedFuture(corrupt(s.path, "it ends inside its data, at offset "
                  + (offset + b.length()))));
    });
  }

  @Override
  public Future<SnapshotReader> open(SnapshotMeta meta) {
    Objects.requireNonNull(meta, "meta");
    return onOpenContext(() -> {
      Stored s = current(meta);
      return s.acquire().transform(ar -> {
        if (ar.failed()) {
          s.release();
          return Future.failedFuture(new StorageException("opening snapshot " + s.path
              + " failed: " + ar.cause().getMessage(), ar.cause()));
        }
        Reader r = new Reader(s, ar.result());
        readers.add(r);
        return Future.succeededFuture(r);
      });
    });
  }

  /** @return the latest snapshot if it is the one meant, else throws */
  private Stored current(SnapshotMeta meta) {
    if (latest == null || !latest.meta.equals(meta)) {
      throw new StorageException("the snapshot at index " + meta.index() + " (term "
          + meta.term() + ") is not the latest snapshot: " + (latest == null ? "there is none"
          : "the latest is at index " + latest.meta.index() + " (term " + latest.meta.term()
          + "); restart from latest()"));
    }
    return latest;
  }

  // =====================================================================================
  // Writing
  // =====================================================================================

  @Override
  public Future<SnapshotWriter> create(SnapshotMeta meta) {
    Objects.requireNonNull(meta, "meta");
    return onOpenContext(() -> {
      refuseIfNotNewer(meta);
      String tmp = path(SnapshotFileFormat.tmpName(meta.index(), meta.term(), tmpCounter++));
      Future<StorageFileSystem.FileHandle> opening = fs.open(tmp).recover(err ->
          Future.failedFuture(new StorageException("creating the snapshot file " + tmp
              + " failed: " + err.getMessage(), err)));
      Writer w = new Writer(meta, tmp, opening);
      writers.add(w);
      return Future.succeededFuture(w);
    });
  }

  private void refuseIfNotNewer(SnapshotMeta meta) {
    if (latest != null && meta.index() <= latest.meta.index()) {
      throw new StorageException("a snapshot at index " + meta.index() + " is not newer than the"
          + " latest snapshot, at index " + latest.meta.index() + " (term " + latest.meta.term()
          + ")");
    }
  }

  /** Makes a fully written snapshot the latest; runs in the commit chain. */
  private Future<SnapshotMeta> install(Writer w, SnapshotMeta meta) {
    try {
      refuseIfNotNewer(meta);
    } catch (StorageException e) {
      return Future.failedFuture(e);
    }
    String target = path(SnapshotFileFormat.fileName(meta.index(), meta.term()));
    return w.handle.compose(h -> h.write(SnapshotFileFormat.encodeTrailer(meta), meta.size())
            .compose(v -> h.force()))
        .compose(v -> w.closeHandle())
        .compose(v -> fs.move(w.tmp, target))
        .compose(v -> {
          w.renamedTo = target;
          return fs.fsyncDirectory(dir);
        })
        .compose(v -> {
          Stored old = latest;
          latest = new Stored(meta, target);
          if (old == null) {
            return Future.succeededFuture(meta);
          }
          boolean wait = !old.inUse();
          Future<Void> deleted = old.retire()
              .compose(x -> fs.delete(old.path))
              .recover(err -> {
                LOG.log(System.Logger.Level.WARNING, "Could not delete the replaced snapshot "
                    + old.path + " (the next load deletes it): " + err.getMessage());
                return Future.succeededFuture();
              });
          return wait ? deleted.map(meta) : Future.succeededFuture(meta);
        });
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
    if (phase == Phase.LOADING) {
      return loadFuture.transform(ar -> doClose());
    }
    if (closeFuture == null) {
      phase = Phase.CLOSED;
      List<Future<?>> closing = new ArrayList<>();
      for (Writer w : List.copyOf(writers)) {
        if (w.state == WriterState.OPEN) {
          closing.add(w.abort());
        }
      }
      for (Reader r : List.copyOf(readers)) {
        closing.add(r.close());
      }
      closing.add(commits.transform(ar -> latest == null
          ? Future.succeededFuture() : latest.retire()));
      closeFuture = Future.join(closing).mapEmpty();
    }
    return closeFuture;
  }

  // =====================================================================================
  // Helpers
  // =====================================================================================

  private String path(String name) {
    return Path.of(dir, name).toString();
  }

  private <T> Future<T> onContext(Supplier<Future<T>> action) {
    return ContextFutures.onContext(context, action);
  }

  /** Runs the action on the store's context if the store is open, else fails. */
  private <T> Future<T> onOpenContext(Supplier<Future<T>> action) {
    if (context == null) {
      return Future.failedFuture(new IllegalStateException("load() the snapshot store first"));
    }
    return onContext(() -> phase == Phase.OPEN ? action.get()
        : Future.failedFuture(new IllegalStateException("the snapshot store is not open ("
            + phase + ")")));
  }

  /**
   * A committed snapshot file and the handle its readers share, opened on first use. Once
   * replaced (retired), the handle is closed when its last reader is done.
   */
  private final class Stored {
    final SnapshotMeta meta;
    final String path;
    private Future<StorageFileSystem.FileHandle> handle;
    private int users;
    private Promise<Void> retired;
    private boolean closing;

    Stored(SnapshotMeta meta, String path) {
      this.meta = meta;
      this.path = path;
    }

    Future<StorageFileSystem.FileHandle> acquire() {
      users++;
      if (handle == null) {
        Future<StorageFileSystem.FileHandle> opening = fs.open(path);
        handle = opening;
        opening.onFailure(err -> {
          if (handle == opening) {
            handle = null;
          }
        });
      }
      return handle;
    }

    void release() {
      users--;
      closeIfRetired();
    }

    boolean inUse() {
      return users > 0;
    }

    /** @return a future completed once no one reads the file any more and it is closed */
    Future<Void> retire() {
      if (retired == null) {
        retired = Promise.promise();
        closeIfRetired();
      }
      return retired.future();
    }

    private void closeIfRetired() {
      if (retired == null || users > 0 || closing) {
        return;
      }
      closing = true;
      Future<StorageFileSystem.FileHandle> h = handle;
      handle = null;
      Future<Void> closed = h == null ? Future.succeededFuture()
          : h.transform(ar -> ar.succeeded() ? ar.result().close() : Future.succeededFuture());
      closed.onComplete(ar -> retired.complete());
    }
  }

  /** Where a writer is in its life. */
  private enum WriterState { OPEN, COMMITTING, COMMITTED, DISCARDED }

  /** The writer of one snapshot into its temporary file. */
  private final class Writer implements SnapshotWriter {
    final SnapshotMeta meta;
    final String tmp;
    /** The temporary file, being opened or open; writes wait for it. */
    final Future<StorageFileSystem.FileHandle> handle;
    private final CRC32C crc = new CRC32C();
    private final Stream stream = new Stream();
    private final List<Future<Void>> inFlight = new ArrayList<>();
    /** Bytes accepted; where the next write goes. */
    private volatile long accepted;
    /** Bytes accepted whose write has not completed. */
    private volatile long queued;
    private volatile int maxQueued = DEFAULT_WRITE_QUEUE_MAX_SIZE;
    private volatile Handler<Void> drainHandler;
    private volatile Handler<Throwable> exceptionHandler;
    private boolean needDrain;
    /** Set by the stream's end(): no more data, but not committed yet. */
    private boolean ended;
    private WriterState state = WriterState.OPEN;
    private boolean handleClosed;
    /** The committed file's path once the temporary file was renamed to it. */
    String renamedTo;
    private StorageException failure;
    /** Completes once the discarded writer's file is deleted. */
    private Future<Void> discarded;

    Writer(SnapshotMeta meta, String tmp, Future<StorageFileSystem.FileHandle> handle) {
      this.meta = meta;
      this.tmp = tmp;
      this.handle = handle;
    }

    @Override
    public SnapshotMeta meta() {
      return meta;
    }

    @Override
    public long offset() {
      return accepted;
    }

    @Override
    public WriteStream<Buffer> stream() {
      return stream;
    }

    @Override
    public Future<Void> write(long offset, Buffer chunk) {
      Objects.requireNonNull(chunk, "chunk");
      return onContext(() -> {
        Future<Void> refused = refusal();
        if (refused != null) {
          return refused;
        }
        if (offset != accepted) {
          return Future.failedFuture(new SnapshotOffsetException(offset, accepted));
        }
        if (meta.complete() && accepted + chunk.length() > meta.size()) {
          return Future.failedFuture(new IllegalArgumentException("a chunk of " + chunk.length()
              + " bytes at offset " + offset + " runs past the snapshot's size, " + meta.size()));
        }
        return accept(chunk);
      });
    }

    /** @return a failed future if no data may be written now, else null */
    private Future<Void> refusal() {
      if (failure != null) {
        return Future.failedFuture(failure);
      }
      if (state != WriterState.OPEN || ended) {
        return Future.failedFuture(new IllegalStateException("the snapshot writer takes no more"
            + " data: it is " + (ended ? "ended" : describe())));
      }
      return null;
    }

    private String describe() {
      return switch (state) {
        case OPEN -> "open";
        case COMMITTING -> "being committed";
        case COMMITTED -> "committed";
        case DISCARDED -> "discarded (aborted, or its commit failed)";
      };
    }

    private Future<Void> accept(Buffer data) {
      int n = data.length();
      if (n == 0) {
        return Future.succeededFuture();
      }
      long position = accepted;
      accepted = position + n;
      queued += n;
      if (queued >= maxQueued) {
        needDrain = true;
      }
      crc.update(data.getBytes());
      Future<Void> f = handle.compose(h -> h.write(data, position));
      inFlight.add(f);
      return f.transform(ar -> {
        inFlight.remove(f);
        queued -= n;
        if (ar.failed()) {
          fail(ar.cause());
          return Future.failedFuture(failure);
        }
        Handler<Void> drain = drainHandler;
        if (needDrain && queued <= maxQueued / 2) {
          needDrain = false;
          if (drain != null) {
            drain.handle(null);
          }
        }
        return Future.succeededFuture();
      });
    }

    private void fail(Throwable cause) {
      if (failure != null) {
        return;
      }
      failure = cause instanceof StorageException se ? se : new StorageException("writing the"
          + " snapshot at index " + meta.index() + " into " + tmp + " failed: "
          + cause.getMessage(), cause);
      Handler<Throwable> h = exceptionHandler;
      if (h != null) {
        h.handle(failure);
      }
    }

    /** @return a future completed once every write issued so far has completed */
    private Future<Void> writesDone() {
      return Future.join(new ArrayList<>(inFlight)).transform(ar -> failure != null
          ? Future.failedFuture(failure) : Future.succeededFuture());
    }

    @Override
    public Future<SnapshotMeta> commit() {
      return onContext(() -> {
        if (state != WriterState.OPEN) {
          return Future.failedFuture(new IllegalStateException("the snapshot writer cannot be"
              + " committed: it is " + describe()));
        }
        state = WriterState.COMMITTING;
        Future<SnapshotMeta> done = writesDone().compose(v -> {
          int checksum = (int) crc.getValue();
          if (meta.complete() && (accepted != meta.size() || checksum != meta.checksum())) {
            return Future.failedFuture(new CorruptSnapshotException("the snapshot data received"
                + " for index " + meta.index() + " does not match the sender's: "
                + accepted + " bytes with checksum " + String.format("%08x", checksum)
                + " instead of " + meta.size() + " bytes with checksum "
                + String.format("%08x", meta.checksum()) + "; it is discarded: send it again"));
          }
          SnapshotMeta full = meta.complete() ? meta : meta.withData(accepted, checksum);
          Future<SnapshotMeta> installed = commits.transform(ar -> install(this, full));
          commits = installed;
          return installed;
        });
        return done.transform(ar -> {
          writers.remove(this);
          if (ar.succeeded()) {
            state = WriterState.COMMITTED;
            return Future.succeededFuture(ar.result());
          }
          StorageException e = ar.cause() instanceof StorageException se ? se
              : new StorageException("committing the snapshot at index " + meta.index()
                  + " failed: " + ar.cause().getMessage() + "; the previous snapshot stays the"
                  + " latest", ar.cause());
          fail(e);
          state = WriterState.DISCARDED;
          discarded = discard();
          return discarded.transform(x -> Future.failedFuture(e));
        });
      });
    }

    @Override
    public Future<Void> abort() {
      return onContext(() -> {
        if (state == WriterState.COMMITTING || state == WriterState.COMMITTED) {
          return Future.failedFuture(new IllegalStateException("the snapshot writer cannot be"
              + " aborted: it is " + describe()));
        }
        if (state == WriterState.OPEN) {
          state = WriterState.DISCARDED;
          discarded = discard();
        }
        return discarded;
      });
    }

    /** Closes and deletes the temporary file (or the file it was renamed to). */
    Future<Void> discard() {
      writers.remove(this);
      String file = renamedTo != null ? renamedTo : tmp;
      return writesDone().transform(ar -> closeHandle())
          .transform(ar -> fs.delete(file))
          .recover(err -> {
            LOG.log(System.Logger.Level.WARNING, "Could not delete the discarded snapshot file "
                + file + " (the next load deletes it): " + err.getMessage());
            return Future.succeededFuture();
          });
    }

    Future<Void> closeHandle() {
      if (handleClosed) {
        return Future.succeededFuture();
      }
      handleClosed = true;
      return handle.transform(ar -> ar.succeeded() ? ar.result().close()
          : Future.succeededFuture());
    }

    /** The writer as a stream appending at {@link #offset()}. */
    private final class Stream implements WriteStream<Buffer> {

      @Override
      public WriteStream<Buffer> exceptionHandler(Handler<Throwable> handler) {
        exceptionHandler = handler;
        return this;
      }

      @Override
      public Future<Void> write(Buffer data) {
        Objects.requireNonNull(data, "data");
        return onContext(() -> {
          Future<Void> refused = refusal();
          return refused != null ? refused : accept(data);
        });
      }

      @Override
      public Future<Void> end() {
        return onContext(() -> {
          ended = true;
          return writesDone();
        });
      }

      @Override
      public WriteStream<Buffer> setWriteQueueMaxSize(int maxSize) {
        if (maxSize < 1) {
          throw new IllegalArgumentException("maxSize must be at least 1: " + maxSize);
        }
        maxQueued = maxSize;
        return this;
      }

      @Override
      public boolean writeQueueFull() {
        return queued >= maxQueued;
      }

      @Override
      public WriteStream<Buffer> drainHandler(Handler<Void> handler) {
        drainHandler = handler;
        return this;
      }
    }
  }

  /** A snapshot's data, read in chunks as demanded and checked against its meta. */
  private final class Reader implements SnapshotReader {
    private final Stored stored;
    private final StorageFileSystem.FileHandle handle;
    private final CRC32C crc = new CRC32C();
    private Handler<Buffer> handler;
    private Handler<Void> endHandler;
    private Handler<Throwable> exceptionHandler;
    private long demand = Long.MAX_VALUE;
    private long position;
    private boolean reading;
    private boolean finished;

    Reader(Stored stored, StorageFileSystem.FileHandle handle) {
      this.stored = stored;
      this.handle = handle;
    }

    @Override
    public SnapshotMeta meta() {
      return stored.meta;
    }

    @Override
    public SnapshotReader exceptionHandler(Handler<Throwable> handler) {
      exceptionHandler = handler;
      return this;
    }

    @Override
    public SnapshotReader handler(Handler<Buffer> handler) {
      this.handler = handler;
      readMore();
      return this;
    }

    @Override
    public SnapshotReader pause() {
      demand = 0;
      return this;
    }

    @Override
    public SnapshotReader resume() {
      demand = Long.MAX_VALUE;
      readMore();
      return this;
    }

    @Override
    public SnapshotReader fetch(long amount) {
      if (amount < 0) {
        throw new IllegalArgumentException("amount must not be negative: " + amount);
      }
      demand = demand > Long.MAX_VALUE - amount ? Long.MAX_VALUE : demand + amount;
      readMore();
      return this;
    }

    @Override
    public SnapshotReader endHandler(Handler<Void> endHandler) {
      this.endHandler = endHandler;
      return this;
    }

    @Override
    public Future<Void> close() {
      return onContext(() -> {
        if (!finished) {
          finished = true;
          release();
        }
        return Future.succeededFuture();
      });
    }

    /** Reads the next chunk if one is wanted; always delivers asynchronously. */
    private void readMore() {
      if (finished || reading || handler == null || demand == 0) {
        return;
      }
      reading = true;
      long size = stored.meta.size();
      if (position >= size) {
        context.runOnContext(v -> {
          reading = false;
          finish();
        });
        return;
      }
      int n = (int) Math.min(READ_CHUNK, size - position);
      handle.read(position, n).onComplete(ar -> {
        reading = false;
        if (finished) {
          return;
        }
        if (ar.failed()) {
          fail(new StorageException("reading snapshot " + stored.path + " failed: "
              + ar.cause().getMessage(), ar.cause()));
          return;
        }
        Buffer chunk = ar.result();
        if (chunk.length() != n) {
          fail(corrupt(stored.path, "it ends inside its data, at offset "
              + (position + chunk.length())));
          return;
        }
        crc.update(chunk.getBytes());
        position += n;
        if (demand != Long.MAX_VALUE) {
          demand--;
        }
        Handler<Buffer> h = handler;
        if (h != null) {
          h.handle(chunk);
        }
        readMore();
      });
    }

    private void finish() {
      if (finished) {
        return;
      }
      int checksum = (int) crc.getValue();
      if (checksum != stored.meta.checksum()) {
        fail(corrupt(stored.path, "its data fails its checksum (" + String.format("%08x",
            checksum) + " instead of " + String.format("%08x", stored.meta.checksum()) + ")"));
        return;
      }
      finished = true;
      release();
      Handler<Void> h = endHandler;
      if (h != null) {
        h.handle(null);
      }
    }

    private void fail(StorageException e) {
      finished = true;
      release();
      Handler<Throwable> h = exceptionHandler;
      if (h != null) {
        h.handle(e);
      } else {
        LOG.log(System.Logger.Level.ERROR, "Reading a snapshot failed, and its reader has no"
            + " exception handler", e);
      }
    }

    private void release() {
      readers.remove(this);
      stored.release();
    }
  }
}
