package dev.raftvertx.impl.storage;

import dev.raftvertx.spi.StorageException;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.file.AsyncFile;
import io.vertx.core.file.CopyOptions;
import io.vertx.core.file.FileSystem;
import io.vertx.core.file.OpenOptions;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The real {@link StorageFileSystem}: {@link FileSystem} for whole-file operations,
 * {@link Vertx#executeBlocking} for what Vert.x does not offer (directory fsync, the lock), and
 * for open files either of the {@link FileIo} ways.
 */
public final class VertxStorageFileSystem implements StorageFileSystem {

  /** How open files do their I/O. */
  public enum FileIo {
    /**
     * The default: a {@link java.nio.channels.FileChannel} whose operations run in call order,
     * in batches, on worker threads ({@link ChannelFileHandle}): a write and the force after it
     * take one round trip to a worker thread, and writes issued together are written together.
     */
    ORDERED_WORKER,
    /**
     * Vert.x {@link AsyncFile}: each write, and each force ({@code flush}), is its own round trip
     * to a worker thread. Kept for comparison (see {@code FsyncPathBench} and
     * {@code StorageWriteBench} in the benchmarks module).
     */
    ASYNC_FILE
  }

  /**
   * Lock files held by this JVM. A POSIX lock belongs to the process, and closing any descriptor of
   * the file drops it, so a second attempt from this process must be refused before it opens the
   * file at all.
   */
  private static final Set<Path> HELD_LOCKS = ConcurrentHashMap.newKeySet();

  private final Vertx vertx;
  private final FileSystem fs;
  private final FileIo fileIo;

  /**
   * A file system whose open files use {@link FileIo#ORDERED_WORKER}.
   *
   * @param vertx the Vert.x instance whose file system and worker pool to use
   */
  public VertxStorageFileSystem(Vertx vertx) {
    this(vertx, FileIo.ORDERED_WORKER);
  }

  /**
   * @param vertx the Vert.x instance whose file system and worker pool to use
   * @param fileIo how open files do their I/O
   */
  public VertxStorageFileSystem(Vertx vertx, FileIo fileIo) {
    this.vertx = vertx;
    this.fs = vertx.fileSystem();
    this.fileIo = java.util.Objects.requireNonNull(fileIo, "fileIo");
  }

  @Override
  public Future<Void> mkdirs(String dir) {
    return fs.mkdirs(dir);
  }

  @Override
  public Future<List<String>> list(String dir) {
    return fs.readDir(dir).map(paths -> {
      List<String> names = new ArrayList<>(paths.size());
      for (String p : paths) {
        names.add(Path.of(p).getFileName().toString());
      }
      return names;
    });
  }

  @Override
  public Future<Buffer> readFile(String path) {
    return fs.readFile(path);
  }

  @Override
  public Future<FileHandle> open(String path) {
    if (fileIo == FileIo.ORDERED_WORKER) {
      return ChannelFileHandle.open(vertx, path);
    }
    return fs.open(path, new OpenOptions().setRead(true).setWrite(true).setCreate(true))
        .map(VertxFileHandle::new);
  }

  @Override
  public Future<Void> truncate(String path, long length) {
    return fs.truncate(path, length);
  }

  @Override
  public Future<Void> delete(String path) {
    return fs.delete(path);
  }

  @Override
  public Future<Void> move(String from, String to) {
    return fs.move(from, to, new CopyOptions().setAtomicMove(true).setReplaceExisting(true));
  }

  @Override
  public Future<Void> fsyncDirectory(String dir) {
    return vertx.executeBlocking(() -> {
      try (FileChannel ch = FileChannel.open(Path.of(dir), StandardOpenOption.READ)) {
        ch.force(true);
      }
      return null;
    });
  }

  @Override
  public Future<DirectoryLock> lock(String path) {
    return vertx.executeBlocking(() -> {
      Path file = Path.of(path).toAbsolutePath();
      Path key = file.getParent().toRealPath().resolve(file.getFileName());
      if (!HELD_LOCKS.add(key)) {
        throw inUseHere(key);
      }
      FileChannel ch = null;
      try {
        ch = FileChannel.open(key, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        FileLock lock = ch.tryLock();
        if (lock == null) {
          throw new StorageException("the data directory " + key.getParent()
              + " is in use by another process (it holds the lock on " + key
              + "); stop that process or use another directory");
        }
        return new ChannelLock(key, ch, lock);
      } catch (OverlappingFileLockException e) {
        closeQuietly(ch);
        HELD_LOCKS.remove(key);
        throw inUseHere(key);
      } catch (IOException | RuntimeException e) {
        closeQuietly(ch);
        HELD_LOCKS.remove(key);
        throw e;
      }
    });
  }

  private static StorageException inUseHere(Path key) {
    return new StorageException("the data directory " + key.getParent()
        + " is already open in this process (lock " + key + " is held); close it first");
  }

  private static void closeQuietly(FileChannel ch) {
    if (ch == null) {
      return;
    }
    try {
      ch.close();
    } catch (IOException e) {
      // The channel is discarded after a failed lock attempt; the lock error is what matters.
    }
  }

  private final class ChannelLock implements DirectoryLock {
    private final Path key;
    private final FileChannel channel;
    private final FileLock lock;

    ChannelLock(Path key, FileChannel channel, FileLock lock) {
      this.key = key;
      this.channel = channel;
      this.lock = lock;
    }

    @Override
    public Future<Void> release() {
      return vertx.executeBlocking(() -> {
        try {
          lock.release();
          channel.close();
        } finally {
          HELD_LOCKS.remove(key);
        }
        return null;
      });
    }
  }

  /**
   * An {@link AsyncFile}. Its {@code flush()} fsyncs without waiting for writes still in flight,
   * so {@link #force()} first waits for those. Its writes may run concurrently and complete in any
   * order, so each write here starts once the previous one is done: writes that overlap (records
   * written over the zeros an earlier write put ahead of its own) land in call order.
   */
  private static final class VertxFileHandle implements FileHandle {
    private final AsyncFile file;
    private final List<Future<Void>> inFlight = new ArrayList<>();
    private Future<Void> lastWrite = Future.succeededFuture();

    VertxFileHandle(AsyncFile file) {
      this.file = file;
    }

    @Override
    public Future<Void> write(Buffer data, long position) {
      Future<Void> f;
      synchronized (inFlight) {
        f = lastWrite.transform(ar -> file.write(data, position));
        lastWrite = f;
        inFlight.add(f);
      }
      return f.andThen(ar -> {
        synchronized (inFlight) {
          inFlight.remove(f);
        }
      });
    }

    @Override
    public Future<Buffer> read(long position, int length) {
      return file.read(Buffer.buffer(length), 0, position, length);
    }

    @Override
    public Future<Long> size() {
      return file.size();
    }

    @Override
    public Future<Void> force() {
      List<Future<Void>> waitFor;
      synchronized (inFlight) {
        waitFor = new ArrayList<>(inFlight);
      }
      if (waitFor.isEmpty()) {
        return file.flush();
      }
      return Future.all(waitFor).compose(v -> file.flush());
    }

    @Override
    public Future<Void> close() {
      return file.close();
    }
  }
}
