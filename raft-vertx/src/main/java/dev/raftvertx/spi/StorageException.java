package dev.raftvertx.spi;

/**
 * A {@link RaftStorage} operation failed: an I/O error, a refused lock, a data directory that
 * belongs to another node, or a storage that refuses work after an earlier failure.
 */
public class StorageException extends RuntimeException {

  /**
   * @param message what failed and, where known, what to do about it
   */
  public StorageException(String message) {
    super(message);
  }

  /**
   * @param message what failed and, where known, what to do about it
   * @param cause the underlying error
   */
  public StorageException(String message, Throwable cause) {
    super(message, cause);
  }
}
