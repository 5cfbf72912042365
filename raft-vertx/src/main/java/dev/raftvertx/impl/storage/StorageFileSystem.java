package dev.raftvertx.impl.storage;

import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import java.util.List;

/**
 * The file operations {@link FileRaftStorage} needs, and nothing else, so that tests can inject
 * faults. Every operation is asynchronous and must not block the calling thread. Paths are
 * absolute path strings.
 *
 * <p>Threading: {@link FileRaftStorage} calls it from its own context only; implementations must
 * complete the returned futures on the calling context.
 */
public interface StorageFileSystem {

  /**
   * @param dir a directory to create, with its missing parents; no error if it exists
   * @return completion
   */
  Future<Void> mkdirs(String dir);

  /**
   * @param dir a directory
   * @return the names (not paths) of the entries in it
   */
  Future<List<String>> list(String dir);

  /**
   * @param path a file
   * @return its whole content
   */
  Future<Buffer> readFile(String path);

  /**
   * Opens a file for reading and writing, creating it if absent.
   *
   * @param path the file
   * @return the open file
   */
  Future<FileHandle> open(String path);

  /**
   * @param path a file
   * @param length the length to cut it to (not fsynced)
   * @return completion
   */
  Future<Void> truncate(String path, long length);

  /**
   * @param path a file to delete (the directory is not fsynced)
   * @return completion
   */
  Future<Void> delete(String path);

  /**
   * Renames a file atomically, replacing the target (the directory is not fsynced).
   *
   * @param from the source
   * @param to the target
   * @return completion
   */
  Future<Void> move(String from, String to);

  /**
   * Makes the entries of a directory (files created, deleted or renamed in it) durable.
   *
   * @param dir the directory
   * @return completion once durable
   */
  Future<Void> fsyncDirectory(String dir);

  /**
   * Takes an exclusive lock held until released, refused if another holder, in this process or
   * another, has it.
   *
   * @param path the lock file, created if absent
   * @return the lock; fails with a {@link dev.raftvertx.spi.StorageException} if already held
   */
  Future<DirectoryLock> lock(String path);

  /** An open file. Calls may overlap; {@link #force()} covers every write issued before it. */
  interface FileHandle {

    /**
     * @param data bytes to write
     * @param position the file offset to write them at
     * @return completion once handed to the operating system (not durable)
     */
    Future<Void> write(Buffer data, long position);

    /**
     * @param position the file offset to read from
     * @param length the number of bytes wanted
     * @return the bytes, fewer only at the end of the file
     */
    Future<Buffer> read(long position, int length);

    /** @return the file's current length */
    Future<Long> size();

    /**
     * Waits for the writes issued so far, then makes the file's content durable (fsync).
     *
     * @return completion once durable; failed if a write it waited for failed
     */
    Future<Void> force();

    /** @return completion once closed */
    Future<Void> close();
  }

  /** A held {@link #lock}. */
  interface DirectoryLock {
    /** @return completion once the lock is released */
    Future<Void> release();
  }
}
