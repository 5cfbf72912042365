package dev.raftvertx.spi;

/**
 * A snapshot chunk was refused because it does not start where the receiver's data ends: a chunk
 * was lost, duplicated or reordered on the way. Nothing was written; the sender resumes from
 * {@link #expectedOffset()}.
 */
public class SnapshotOffsetException extends StorageException {

  private final long expectedOffset;

  /**
   * @param offset the offset the refused chunk started at
   * @param expectedOffset the offset the next chunk must start at
   */
  public SnapshotOffsetException(long offset, long expectedOffset) {
    super("snapshot chunk at offset " + offset + " refused: the data received so far ends at"
        + " offset " + expectedOffset + ", so the next chunk must start there");
    this.expectedOffset = expectedOffset;
  }

  /** @return the offset the next chunk must start at (the number of bytes received so far) */
  public long expectedOffset() {
    return expectedOffset;
  }
}
