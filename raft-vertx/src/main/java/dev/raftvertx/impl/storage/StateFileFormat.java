package dev.raftvertx.impl.storage;

import dev.raftvertx.core.HardState;
import io.vertx.core.buffer.Buffer;
import java.nio.charset.StandardCharsets;
import java.util.zip.CRC32C;

/**
 * The on-disk form of the identity and hard state: the file {@code state} holds two slots, at
 * offsets 0 and {@link #SLOT_SIZE}, each a complete copy. All integers are big-endian.
 *
 * <pre>
 * magic 0x52565354 ("RVST") int, version 1 byte, counter long, currentTerm long,
 * clusterId, nodeId, votedFor (each: UTF-8 length int, -1 for null, then the bytes),
 * crc int: CRC32C over everything before it
 * </pre>
 *
 * <p>The copy with the highest counter among those that pass the checks is the current one. An
 * update writes the slot that does not hold the durable copy, so a torn update leaves the other
 * slot intact.
 */
final class StateFileFormat {

  static final int SLOT_SIZE = 4096;
  /** Upper bound on each string, so that a copy fits its slot. */
  static final int MAX_STRING_BYTES = 1024;

  private static final int MAGIC = 0x52565354;
  private static final byte VERSION = 1;

  /**
   * A decoded copy.
   *
   * @param counter increases with every update
   * @param clusterId the recorded cluster
   * @param nodeId the recorded node
   * @param hardState the recorded term and vote
   */
  record Copy(long counter, String clusterId, String nodeId, HardState hardState) {
  }

  private StateFileFormat() {
  }

  /**
   * @param s a string that will be stored
   * @param what its name, for the error
   * @throws IllegalArgumentException if it is too long to store
   */
  static void checkStorable(String s, String what) {
    if (s != null && s.getBytes(StandardCharsets.UTF_8).length > MAX_STRING_BYTES) {
      throw new IllegalArgumentException(what + " is longer than " + MAX_STRING_BYTES + " bytes");
    }
  }

  /**
   * @param copy what to store
   * @return the bytes of the copy
   */
  static Buffer encode(Copy copy) {
    Buffer b = Buffer.buffer(128);
    b.appendInt(MAGIC).appendByte(VERSION).appendLong(copy.counter())
        .appendLong(copy.hardState().currentTerm());
    appendString(b, copy.clusterId());
    appendString(b, copy.nodeId());
    appendString(b, copy.hardState().votedFor());
    byte[] bytes = b.getBytes();
    CRC32C crc = new CRC32C();
    crc.update(bytes, 0, bytes.length);
    return b.appendInt((int) crc.getValue());
  }

  /**
   * @param file the state file's content
   * @param slot 0 or 1
   * @return the copy in that slot, or null if it is missing or damaged
   */
  static Copy decode(Buffer file, int slot) {
    int start = slot * SLOT_SIZE;
    Cursor c = new Cursor(file, start, Math.min(file.length(), start + SLOT_SIZE));
    int magic = c.readInt();
    byte version = c.readByte();
    long counter = c.readLong();
    long term = c.readLong();
    String clusterId = c.readString();
    String nodeId = c.readString();
    String votedFor = c.readString();
    int checked = c.pos;
    int storedCrc = c.readInt();
    if (!c.ok || magic != MAGIC || version != VERSION || clusterId == null || nodeId == null
        || term < 0) {
      return null;
    }
    CRC32C crc = new CRC32C();
    crc.update(file.getBytes(start, checked));
    if ((int) crc.getValue() != storedCrc) {
      return null;
    }
    return new Copy(counter, clusterId, nodeId, new HardState(term, votedFor));
  }

  private static void appendString(Buffer b, String s) {
    if (s == null) {
      b.appendInt(-1);
      return;
    }
    byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
    b.appendInt(bytes.length).appendBytes(bytes);
  }

  /** Reads fields within a slot; {@link #ok} turns false once a field runs past the slot. */
  private static final class Cursor {
    private final Buffer file;
    private final int limit;
    int pos;
    boolean ok = true;

    Cursor(Buffer file, int pos, int limit) {
      this.file = file;
      this.pos = pos;
      this.limit = limit;
    }

    private boolean take(int n) {
      if (!ok || n < 0 || pos + n > limit) {
        ok = false;
        return false;
      }
      pos += n;
      return true;
    }

    int readInt() {
      return take(4) ? file.getInt(pos - 4) : 0;
    }

    byte readByte() {
      return take(1) ? file.getByte(pos - 1) : 0;
    }

    long readLong() {
      return take(8) ? file.getLong(pos - 8) : 0;
    }

    String readString() {
      int length = readInt();
      if (!ok || length == -1) {
        return null;
      }
      if (length > MAX_STRING_BYTES || !take(length)) {
        ok = false;
        return null;
      }
      return file.getString(pos - length, pos, StandardCharsets.UTF_8.name());
    }
  }
}
