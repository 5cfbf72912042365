package dev.raftvertx.impl.storage;

import dev.raftvertx.core.EntryType;
import dev.raftvertx.core.LogEntry;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.zip.CRC32C;

/**
 * The on-disk form of one log entry in a segment file. All integers are big-endian.
 *
 * <pre>
 * offset size field
 *      0    4 magic      0x52564C47 ("RVLG")
 *      4    1 version    1
 *      5    8 index
 *     13    8 term
 *     21    1 type       EntryType ordinal
 *     22    8 session
 *     30    8 sequence
 *     38    8 timestamp
 *     46    4 length     of data
 *     50    4 crc        CRC32C over bytes [0, 50) and the data
 *     54    n data
 * </pre>
 *
 * <p>The magic is not 0 and the checksum covers it, so a zero-filled (preallocated) region never
 * reads as a record.
 *
 * <p>Not thread-safe: an instance reuses one checksum object.
 */
final class LogRecordFormat {

  static final int MAGIC = 0x52564C47;
  static final byte VERSION = 1;
  static final int HEADER_SIZE = 54;

  private static final int VERSION_AT = 4;
  private static final int INDEX_AT = 5;
  private static final int TERM_AT = 13;
  private static final int TYPE_AT = 21;
  private static final int SESSION_AT = 22;
  private static final int SEQUENCE_AT = 30;
  private static final int TIMESTAMP_AT = 38;
  private static final int LENGTH_AT = 46;
  private static final int CRC_AT = 50;
  private static final byte MAGIC_FIRST_BYTE = (byte) (MAGIC >>> 24);
  private static final int TYPE_COUNT = EntryType.values().length;

  private final CRC32C crc = new CRC32C();
  private String lastProblem = "";

  /**
   * @param e an entry
   * @return the size of its record
   */
  static long recordSize(LogEntry e) {
    return HEADER_SIZE + (long) e.data().length;
  }

  /**
   * Writes the record of e into dst at off.
   *
   * @param e the entry
   * @param dst a heap buffer, big-endian
   * @param off where the record starts
   * @return the offset just after the record
   */
  int encode(LogEntry e, ByteBuffer dst, int off) {
    byte[] data = e.data();
    dst.putInt(off, MAGIC);
    dst.put(off + VERSION_AT, VERSION);
    dst.putLong(off + INDEX_AT, e.index());
    dst.putLong(off + TERM_AT, e.term());
    dst.put(off + TYPE_AT, (byte) e.type().ordinal());
    dst.putLong(off + SESSION_AT, e.session());
    dst.putLong(off + SEQUENCE_AT, e.sequence());
    dst.putLong(off + TIMESTAMP_AT, e.timestamp());
    dst.putInt(off + LENGTH_AT, data.length);
    byte[] array = dst.array();
    System.arraycopy(data, 0, array, off + HEADER_SIZE, data.length);
    dst.putInt(off + CRC_AT, checksum(array, off, data.length));
    return off + HEADER_SIZE + data.length;
  }

  /**
   * Checks whether a valid record starts at {@code off} of {@code buf}.
   *
   * @param buf bytes of the file, big-endian; {@code buf.array()} is used directly
   * @param off where the candidate starts in buf
   * @param available how many bytes of the file are in buf from off on
   * @param toEndOfFile how many bytes the file has from off on
   * @return the record's size if valid; 0 if no valid record starts there ({@link #lastProblem()}
   *     says why); or minus the number of bytes from off that must be in buf to decide
   */
  int check(ByteBuffer buf, int off, int available, long toEndOfFile) {
    byte[] array = buf.array();
    if (available >= 1 && array[off] != MAGIC_FIRST_BYTE) {
      return bad("no record magic");
    }
    if (toEndOfFile < HEADER_SIZE) {
      return bad("a record header cut short by the end of the file");
    }
    if (available < HEADER_SIZE) {
      return -HEADER_SIZE;
    }
    if (buf.getInt(off) != MAGIC) {
      return bad("no record magic");
    }
    if (buf.get(off + VERSION_AT) != VERSION) {
      return bad("unknown record format version " + buf.get(off + VERSION_AT));
    }
    int length = buf.getInt(off + LENGTH_AT);
    if (length < 0 || length > toEndOfFile - HEADER_SIZE) {
      return bad("a data length (" + length + ") that runs past the end of the file");
    }
    int size = HEADER_SIZE + length;
    if (available < size) {
      return -size;
    }
    if (checksum(array, off, length) != buf.getInt(off + CRC_AT)) {
      return bad("a checksum mismatch");
    }
    int type = buf.get(off + TYPE_AT);
    if (type < 0 || type >= TYPE_COUNT || buf.getLong(off + INDEX_AT) < 1
        || buf.getLong(off + TERM_AT) < 0) {
      return bad("a valid checksum over invalid fields");
    }
    return size;
  }

  /** @return why the last {@link #check} found no valid record */
  String lastProblem() {
    return lastProblem;
  }

  /**
   * @param buf a buffer in which {@link #check} accepted a record at off
   * @param off where the record starts
   * @return the record's index
   */
  static long index(ByteBuffer buf, int off) {
    return buf.getLong(off + INDEX_AT);
  }

  /**
   * @param buf a buffer in which {@link #check} accepted a record at off
   * @param off where the record starts
   * @return the record's term
   */
  static long term(ByteBuffer buf, int off) {
    return buf.getLong(off + TERM_AT);
  }

  /**
   * @param buf a buffer in which {@link #check} accepted a record at off
   * @param off where the record starts
   * @return the entry the record holds
   */
  static LogEntry decode(ByteBuffer buf, int off) {
    int length = buf.getInt(off + LENGTH_AT);
    byte[] data = Arrays.copyOfRange(buf.array(), off + HEADER_SIZE, off + HEADER_SIZE + length);
    return new LogEntry(buf.getLong(off + INDEX_AT), buf.getLong(off + TERM_AT),
        EntryType.ofOrdinal(buf.get(off + TYPE_AT)), buf.getLong(off + SESSION_AT),
        buf.getLong(off + SEQUENCE_AT), buf.getLong(off + TIMESTAMP_AT), data);
  }

  private int checksum(byte[] array, int off, int dataLength) {
    crc.reset();
    crc.update(array, off, CRC_AT);
    crc.update(array, off + HEADER_SIZE, dataLength);
    return (int) crc.getValue();
  }

  private int bad(String problem) {
    lastProblem = problem;
    return 0;
  }
}
