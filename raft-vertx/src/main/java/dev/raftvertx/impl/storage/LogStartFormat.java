package dev.raftvertx.impl.storage;

import io.vertx.core.buffer.Buffer;
import java.util.zip.CRC32C;

/**
 * The on-disk form of the log's start, the file {@code log-start}: the index below which the log
 * holds no entry, because a snapshot covers them. Written only by a compaction or a reset, as
 * {@code log-start.tmp}, fsynced, then atomically renamed and the directory fsynced, so the file
 * is either the old or the new start, never damaged by a crash. All integers are big-endian.
 *
 * <pre>
 * magic 0x52564C53 ("RVLS") int, version 1 byte, first index long,
 * crc int: CRC32C over everything before it
 * </pre>
 */
final class LogStartFormat {

  static final int SIZE = 17;

  private static final int MAGIC = 0x52564C53;
  private static final byte VERSION = 1;
  private static final int CRC_AT = 13;

  private LogStartFormat() {
  }

  /**
   * @param firstIndex the log's first index, at least 1
   * @return the file's content
   */
  static Buffer encode(long firstIndex) {
    Buffer b = Buffer.buffer(SIZE).appendInt(MAGIC).appendByte(VERSION).appendLong(firstIndex);
    return b.appendInt(crc(b));
  }

  /**
   * @param content the file's content
   * @return the first index it records, or -1 if the content is not a valid log start
   */
  static long decode(Buffer content) {
    if (content.length() != SIZE || content.getInt(0) != MAGIC || content.getByte(4) != VERSION
        || content.getInt(CRC_AT) != crc(content)) {
      return -1;
    }
    long firstIndex = content.getLong(5);
    return firstIndex >= 1 ? firstIndex : -1;
  }

  private static int crc(Buffer b) {
    CRC32C crc = new CRC32C();
    crc.update(b.getBytes(0, CRC_AT));
    return (int) crc.getValue();
  }
}
