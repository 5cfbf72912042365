package dev.raftvertx.impl.storage;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.buffer.Buffer;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Wraps a real {@link StorageFileSystem}: counts and records operations, and can be told to fail
 * the next fsync or the next file deletion, to fail writes as a full disk would, or to hold fsyncs
 * until released.
 * Thread-safe (tests call it from their own thread, the storage from its context). Public for the
 * cluster tests ({@code dev.raftvertx.tests.DiskFaultTest}), which give one to each node.
 */
public final class FaultyStorageFileSystem implements StorageFileSystem {

  private final StorageFileSystem real;
  private final List<String> events = new ArrayList<>();
  private boolean failNextFsync;
  private boolean failNextDelete;
  private boolean diskFull;
  private Promise<Void> fsyncGate;
  private Promise<Void> fsyncHeld;
  private int completedWrites;
  private int awaitedWrites;
  private Promise<Void> writesReached;

  /** @param real the file system to pass operations to */
  public FaultyStorageFileSystem(StorageFileSystem real) {
    this.real = real;
  }

  /** The next fsync (of a file or a directory) fails with an I/O error. */
  public synchronized void failNextFsync() {
    failNextFsync = true;
  }

  /** The next file deletion fails with an I/O error (as a crash before it would leave things). */
  synchronized void failNextDelete() {
    failNextDelete = true;
  }

  /** @param full whether file writes fail with "No space left on device" */
  public synchronized void diskFull(boolean full) {
    diskFull = full;
  }

  /**
   * Holds every file fsync until {@link #releaseFsyncs()}.
   *
   * @return completes when the first held fsync is requested
   */
  public synchronized Future<Void> holdFsyncs() {
    fsyncGate = Promise.promise();
    fsyncHeld = Promise.promise();
    return fsyncHeld.future();
  }

  /** Lets held fsyncs proceed and stops holding new ones. */
  public void releaseFsyncs() {
    Promise<Void> gate;
    synchronized (this) {
      gate = fsyncGate;
      fsyncGate = null;
    }
    gate.complete();
  }

  /**
   * @param n a number of file writes
   * @return completes once n file writes have completed since this object was created
   */
  synchronized Future<Void> writesCompleted(int n) {
    if (completedWrites >= n) {
      return Future.succeededFuture();
    }
    awaitedWrites = n;
    writesReached = Promise.promise();
    return writesReached.future();
  }

  /**
   * @return the operations so far, in order: "write NAME", "force NAME", "fsyncdir", "truncate
   *     NAME", "delete NAME", "move NAME"
   */
  public synchronized List<String> events() {
    return new ArrayList<>(events);
  }

  /**
   * @param event an event, as listed by {@link #events()}
   * @return how many times it happened
   */
  synchronized long count(String event) {
    return events.stream().filter(event::equals).count();
  }

  /**
   * @param prefix the start of an event
   * @return how many events start with it
   */
  public synchronized long countStartingWith(String prefix) {
    return events.stream().filter(e -> e.startsWith(prefix)).count();
  }

  private synchronized void record(String event) {
    events.add(event);
  }

  private synchronized IOException takeFsyncFailure() {
    if (!failNextFsync) {
      return null;
    }
    failNextFsync = false;
    return new IOException("Input/output error (simulated fsync failure)");
  }

  private static String name(String path) {
    return Path.of(path).getFileName().toString();
  }

  @Override
  public Future<Void> mkdirs(String dir) {
    return real.mkdirs(dir);
  }

  @Override
  public Future<List<String>> list(String dir) {
    return real.list(dir);
  }

  @Override
  public Future<Buffer> readFile(String path) {
    return real.readFile(path);
  }

  @Override
  public Future<FileHandle> open(String path) {
    return real.open(path).map(h -> new FaultyHandle(name(path), h));
  }

  @Override
  public Future<Void> truncate(String path, long length) {
    record("truncate " + name(path));
    return real.truncate(path, length);
  }

  @Override
  public Future<Void> delete(String path) {
    record("delete " + name(path));
    synchronized (this) {
      if (failNextDelete) {
        failNextDelete = false;
        return Future.failedFuture(
            new IOException("Input/output error (simulated delete failure)"));
      }
    }
    return real.delete(path);
  }

  @Override
  public Future<Void> move(String from, String to) {
    record("move " + name(from));
    return real.move(from, to);
  }

  @Override
  public Future<Void> fsyncDirectory(String dir) {
    record("fsyncdir");
    IOException failure = takeFsyncFailure();
    return failure != null ? Future.failedFuture(failure) : real.fsyncDirectory(dir);
  }

  @Override
  public Future<DirectoryLock> lock(String path) {
    return real.lock(path);
  }

  private final class FaultyHandle implements FileHandle {
    private final String name;
    private final FileHandle real;

    FaultyHandle(String name, FileHandle real) {
      this.name = name;
      this.real = real;
    }

    @Override
    public Future<Void> write(Buffer data, long position) {
      record("write " + name);
      boolean full;
      synchronized (FaultyStorageFileSystem.this) {
        full = diskFull;
      }
      if (full) {
        return Future.failedFuture(new IOException("No space left on device"));
      }
      return real.write(data, position).onSuccess(v -> wrote());
    }

    @Override
    public Future<Buffer> read(long position, int length) {
      return real.read(position, length);
    }

    @Override
    public Future<Long> size() {
      return real.size();
    }

    @Override
    public Future<Void> force() {
      record("force " + name);
      IOException failure = takeFsyncFailure();
      if (failure != null) {
        return Future.failedFuture(failure);
      }
      Promise<Void> gate;
      Promise<Void> held;
      synchronized (FaultyStorageFileSystem.this) {
        gate = fsyncGate;
        held = fsyncHeld;
      }
      if (gate == null) {
        return real.force();
      }
      held.tryComplete();
      return gate.future().compose(v -> real.force());
    }

    @Override
    public Future<Void> close() {
      return real.close();
    }
  }

  private void wrote() {
    Promise<Void> reached = null;
    synchronized (this) {
      completedWrites++;
      if (writesReached != null && completedWrites >= awaitedWrites) {
        reached = writesReached;
        writesReached = null;
      }
    }
    if (reached != null) {
      reached.complete();
    }
  }
}
