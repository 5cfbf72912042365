package dev.raftvertx.spi;

/**
 * A snapshot's bytes are not what its metadata says: a stored snapshot whose metadata or data
 * fails its checksum, or whose file is shorter or longer than recorded, or received data whose size
 * or checksum differs from the sender's metadata. The message names the snapshot (its file where
 * there is one), what is wrong and what to do.
 */
public class CorruptSnapshotException extends StorageException {

  /**
   * @param message what is corrupt, where, and what to do about it
   */
  public CorruptSnapshotException(String message) {
    super(message);
  }
}
