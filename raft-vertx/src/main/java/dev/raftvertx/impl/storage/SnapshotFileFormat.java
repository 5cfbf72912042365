package dev.raftvertx.impl.storage;

import dev.raftvertx.core.Configuration;
import dev.raftvertx.spi.SnapshotMeta;
import io.vertx.core.buffer.Buffer;
import java.util.zip.CRC32C;

/**
 * The on-disk form of a snapshot: one file, {@code snapshot-<index, 20 digits>-<term, 20
 * digits>.snap}, holding the state machine's data followed by the metadata and a footer, so that
 * a single atomic rename makes data and metadata appear together. All integers are big-endian.
 *
 * <pre>
 * data        size bytes, as written by the state machine
 * metadata    magic 0x5256534D ("RVSM") int, version 1 byte, index long, term long,
 *             data size long, data CRC32C int,
 *             configuration length int + bytes ({@link Configuration#encode()}),
 *             session table length int + bytes,
 *             metadata CRC32C int, over the metadata bytes before it
 * footer      metadata length int (from the magic to the metadata CRC), magic 0x52565345 ("RVSE")
 * </pre>
 *
 * <p>While being written, the file is named {@code snapshot-<index>-<term>.<n>.tmp}; such files
 * are never read and are deleted when the store is loaded.
 */
final class SnapshotFileFormat {

  static final int FOOTER_SIZE = 8;
  /** Bytes of the metadata besides the configuration and the session table. */
  static final int FIXED_META_SIZE = 45;

  private static final String PREFIX = "snapshot-";
  private static final String SUFFIX = ".snap";
  private static final String TMP_SUFFIX = ".tmp";
  private static final int DIGITS = 20;
  private static final int META_MAGIC = 0x5256534D;
  private static final int END_MAGIC = 0x52565345;
  private static final byte VERSION = 1;

  /**
   * The index and term a committed snapshot's file name holds.
   *
   * @param index the last included index
   * @param term its term
   */
  record Name(long index, long term) {
  }

  private SnapshotFileFormat() {
  }

  /**
   * @param index a snapshot's last included index
   * @param term its term
   * @return the name of its committed file
   */
  static String fileName(long index, long term) {
    return PREFIX + pad(index) + "-" + pad(term) + SUFFIX;
  }

  /**
   * @param index a snapshot's last included index
   * @param term its term
   * @param n a number making the name unique among the store's writers
   * @return the name of its temporary file
   */
  static String tmpName(long index, long term, long n) {
    return PREFIX + pad(index) + "-" + pad(term) + "." + n + TMP_SUFFIX;
  }

  /**
   * @param name a file name
   * @return true if it is a temporary snapshot file
   */
  static boolean isTmp(String name) {
    return name.startsWith(PREFIX) && name.endsWith(TMP_SUFFIX);
  }

  /**
   * @param name a file name
   * @return the index and term of a committed snapshot file, or null for any other name
   */
  static Name parse(String name) {
    int length = PREFIX.length() + 2 * DIGITS + 1 + SUFFIX.length();
    if (name.length() != length || !name.startsWith(PREFIX) || !name.endsWith(SUFFIX)
        || name.charAt(PREFIX.length() + DIGITS) != '-') {
      return null;
    }
    long index = parseDigits(name, PREFIX.length());
    long term = parseDigits(name, PREFIX.length() + DIGITS + 1);
    return index >= 1 && term >= 0 ? new Name(index, term) : null;
  }

  private static long parseDigits(String name, int from) {
    for (int i = from; i < from + DIGITS; i++) {
      if (name.charAt(i) < '0' || name.charAt(i) > '9') {
        return -1;
      }
    }
    try {
      return Long.parseLong(name.substring(from, from + DIGITS));
    } catch (NumberFormatException e) {
      return -1;
    }
  }

  private static String pad(long n) {
    String digits = Long.toString(n);
    return "0".repeat(DIGITS - digits.length()) + digits;
  }

  /**
   * @param meta a complete meta
   * @return the metadata and footer, written right after the data
   */
  static Buffer encodeTrailer(SnapshotMeta meta) {
    byte[] configuration = meta.configuration().encode();
    byte[] sessions = meta.sessions();
    Buffer b = Buffer.buffer(FIXED_META_SIZE + configuration.length + sessions.length
        + FOOTER_SIZE);
    b.appendInt(META_MAGIC).appendByte(VERSION).appendLong(meta.index()).appendLong(meta.term())
        .appendLong(meta.size()).appendInt(meta.checksum())
        .appendInt(configuration.length).appendBytes(configuration)
        .appendInt(sessions.length).appendBytes(sessions);
    int metaLength = b.length() + 4;
    b.appendInt(crc(b, 0, b.length()));
    return b.appendInt(metaLength).appendInt(END_MAGIC);
  }

  /**
   * @param footer the file's last {@link #FOOTER_SIZE} bytes
   * @param fileSize the file's size
   * @return the metadata's length
   * @throws IllegalArgumentException if the footer is not valid for a file of that size
   */
  static int metaLength(Buffer footer, long fileSize) {
    if (footer.length() != FOOTER_SIZE || footer.getInt(4) != END_MAGIC) {
      throw new IllegalArgumentException("it does not end with a snapshot footer");
    }
    int length = footer.getInt(0);
    if (length < FIXED_META_SIZE || length > fileSize - FOOTER_SIZE) {
      throw new IllegalArgumentException("its footer gives an impossible metadata length, "
          + length + ", for a file of " + fileSize + " bytes");
    }
    return length;
  }

  /**
   * @param metadata the metadata bytes (without the footer)
   * @param dataSize the bytes before the metadata in the file
   * @return the meta they hold
   * @throws IllegalArgumentException if they are damaged or do not describe that much data
   */
  static SnapshotMeta decodeMeta(Buffer metadata, long dataSize) {
    int length = metadata.length();
    if (metadata.getInt(0) != META_MAGIC) {
      throw new IllegalArgumentException("its metadata has no magic number");
    }
    if (crc(metadata, 0, length - 4) != metadata.getInt(length - 4)) {
      throw new IllegalArgumentException("its metadata fails its checksum");
    }
    if (metadata.getByte(4) != VERSION) {
      throw new IllegalArgumentException("unknown snapshot format version "
          + metadata.getByte(4));
    }
    long index = metadata.getLong(5);
    long term = metadata.getLong(13);
    long size = metadata.getLong(21);
    int checksum = metadata.getInt(29);
    int pos = 33;
    int configurationLength = metadata.getInt(pos);
    pos += 4;
    if (configurationLength < 0 || configurationLength > length - FIXED_META_SIZE) {
      throw new IllegalArgumentException("its metadata holds a bad configuration length "
          + configurationLength);
    }
    byte[] configuration = metadata.getBytes(pos, pos + configurationLength);
    pos += configurationLength;
    int sessionsLength = metadata.getInt(pos);
    pos += 4;
    if (sessionsLength != length - FIXED_META_SIZE - configurationLength) {
      throw new IllegalArgumentException("its metadata holds a bad session table length "
          + sessionsLength);
    }
    byte[] sessions = metadata.getBytes(pos, pos + sessionsLength);
    if (size != dataSize) {
      throw new IllegalArgumentException("its metadata records " + size + " bytes of data but the"
          + " file holds " + dataSize);
    }
    return new SnapshotMeta(index, term, Configuration.decode(configuration), sessions, size,
        checksum);
  }

  private static int crc(Buffer b, int from, int to) {
    CRC32C crc = new CRC32C();
    crc.update(b.getBytes(from, to));
    return (int) crc.getValue();
  }
}
