package dev.raftvertx.impl.storage;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.raftvertx.core.EntryType;
import dev.raftvertx.core.LogEntry;
import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;

class LogRecordFormatTest {

  private final LogRecordFormat format = new LogRecordFormat();

  private ByteBuffer encoded(LogEntry e) {
    ByteBuffer buf = ByteBuffer.allocate((int) LogRecordFormat.recordSize(e));
    format.encode(e, buf, 0);
    return buf;
  }

  @Test
  void aRecordDecodesToTheSameEntry() {
    LogEntry e = new LogEntry(42, 7, EntryType.SESSION_OPEN, 3, 9, 1_700_000_000_000L,
        new byte[] {1, 2, 3});
    ByteBuffer buf = encoded(e);
    int size = buf.capacity();
    assertEquals(LogRecordFormat.HEADER_SIZE + 3, size);
    assertEquals(size, format.check(buf, 0, size, size));
    assertEquals(e, LogRecordFormat.decode(buf, 0));
  }

  @Test
  void zerosAreNeverARecord() {
    ByteBuffer zeros = ByteBuffer.allocate(4096);
    for (int off = 0; off < 4096; off++) {
      assertEquals(0, format.check(zeros, off, 4096 - off, 4096 - off));
    }
  }

  @Test
  void everySingleBitFlipIsDetected() {
    LogEntry e = new LogEntry(5, 2, EntryType.COMMAND, 1, 1, 1, new byte[] {9, 8, 7, 6});
    ByteBuffer buf = encoded(e);
    int size = buf.capacity();
    for (int bit = 0; bit < size * 8; bit++) {
      buf.array()[bit / 8] ^= (byte) (1 << (bit % 8));
      assertEquals(0, format.check(buf, 0, size, size), "undetected flip of bit " + bit);
      buf.array()[bit / 8] ^= (byte) (1 << (bit % 8));
    }
  }

  @Test
  void anIncompleteRecordAsksForMoreBytesOrIsBadAtTheEndOfTheFile() {
    ByteBuffer buf = encoded(new LogEntry(1, 1, EntryType.NOOP, 0, 0, 0, new byte[100]));
    int size = buf.capacity();
    assertEquals(-LogRecordFormat.HEADER_SIZE, format.check(buf, 0, 10, size));
    assertEquals(-size, format.check(buf, 0, LogRecordFormat.HEADER_SIZE, size));
    assertEquals(0, format.check(buf, 0, 10, 10));
    assertEquals(0, format.check(buf, 0, size - 1, size - 1));
  }
}
