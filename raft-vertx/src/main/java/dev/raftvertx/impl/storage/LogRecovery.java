package dev.raftvertx.impl.storage;

import dev.raftvertx.core.LogEntry;
import dev.raftvertx.spi.CorruptLogException;
import dev.raftvertx.spi.StorageException;
import io.netty.buffer.ByteBuf;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Promise;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.internal.buffer.BufferInternal;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads the segment files at open: verifies every record (magic, version, checksum), that indexes
 * are continuous across the whole log and that terms never decrease, fills each segment's index
 * and collects the entries. Files are read in large chunks, and parsing allocates nothing per
 * record but the entry itself.
 *
 * <p><b>Recovery rule.</b> A crash in the middle of a write can only damage what that write put
 * after the last durable record of the last segment, because a segment is made durable before the
 * next one is created. So: a bad record followed only by zeros or garbage up to the end of the
 * <em>last</em> segment is a torn tail: it is cut off durably (the file is truncated at the bad
 * record and fsynced, or deleted with a directory fsync if no record precedes it) and recovery
 * succeeds. A bad record in an earlier segment, or a bad record followed later by a valid record
 * (found by trying every later offset of the last segment), is corruption: recovery fails with a
 * {@link CorruptLogException}. A zero-filled (preallocated) region after the last record is the
 * normal end of the active segment and is kept.
 *
 * <p>One use; confined to the storage's context.
 */
final class LogRecovery {

  /** How much of a segment is read at once. */
  static final int READ_CHUNK = 8 << 20;

  private static final System.Logger LOG = System.getLogger(LogRecovery.class.getName());
  private static final ByteBuffer EMPTY = ByteBuffer.wrap(new byte[0]);

  private final StorageFileSystem fs;
  private final String dir;
  private final List<Segment> segments;
  private final LogRecordFormat format = new LogRecordFormat();
  private final List<LogEntry> entries = new ArrayList<>();
  private final Promise<List<LogEntry>> result = Promise.promise();

  /** The index the next record must have. */
  private long expectedIndex;
  private long lastTerm;

  /** The segment being read, its size and the window of its bytes in memory. */
  private Segment current;
  private long size;
  private ByteBuffer window = EMPTY;
  private long windowStart;

  /**
   * @param fs the file system
   * @param dir the data directory, for error messages and directory fsyncs
   * @param segments the segment files found, in index order; their indexes are filled in, and a
   *     last segment holding no record is removed from the list (and from the disk)
   */
  LogRecovery(StorageFileSystem fs, String dir, List<Segment> segments) {
    this.fs = fs;
    this.dir = dir;
    this.segments = segments;
  }

  /**
   * @return the entries of the log; on success the last segment's handle is left open, all
   *     others closed
   */
  Future<List<LogEntry>> run() {
    readSegment(0);
    return result.future();
  }

  private void readSegment(int i) {
    if (i == segments.size()) {
      result.complete(entries);
      return;
    }
    Segment s = segments.get(i);
    if (i == 0) {
      expectedIndex = s.firstIndex;
    } else if (s.firstIndex != expectedIndex) {
      fail(new CorruptLogException("segment file " + s.path + " starts at index " + s.firstIndex
          + " but the previous segment ends at index " + (expectedIndex - 1), dir));
      return;
    }
    current = s;
    then(fs.open(s.path), h -> {
      s.handle = h;
      then(h.size(), fileSize -> {
        size = fileSize;
        window = EMPTY;
        windowStart = 0;
        scanRecords(i, 0);
      });
    });
  }

  private void scanRecords(int i, long start) {
    Segment s = segments.get(i);
    long pos = start;
    while (pos < size) {
      int rel = (int) (pos - windowStart);
      int r = format.check(window, rel, available(pos), size - pos);
      if (r < 0) {
        long at = pos;
        then(load(at, -r), v -> scanRecords(i, at));
        return;
      }
      if (r == 0) {
        badRecord(i, pos);
        return;
      }
      long index = LogRecordFormat.index(window, rel);
      long term = LogRecordFormat.term(window, rel);
      if (index != expectedIndex) {
        fail(new CorruptLogException("the record at offset " + pos + " of " + s.path
            + " holds index " + index + " where index " + expectedIndex + " belongs", dir));
        return;
      }
      if (term < lastTerm) {
        fail(new CorruptLogException("the record at offset " + pos + " of " + s.path
            + " (index " + index + ") has term " + term + ", below the previous term "
            + lastTerm, dir));
        return;
      }
      entries.add(LogRecordFormat.decode(window, rel));
      s.add(pos);
      expectedIndex++;
      lastTerm = term;
      pos += r;
    }
    if (s.count() == 0) {
      if (i < segments.size() - 1) {
        fail(new CorruptLogException("segment file " + s.path + " is empty, and it is not the last"
            + " segment", dir));
      } else {
        cutTornTail(i, 0, false);
      }
      return;
    }
    s.end = pos;
    s.allocated = size;
    finishSegment(i);
  }

  private void badRecord(int i, long pos) {
    Segment s = segments.get(i);
    String problem = "offset " + pos + " of " + s.path + " (where index " + expectedIndex
        + " would start) holds no valid record: " + format.lastProblem();
    if (i < segments.size() - 1) {
      fail(new CorruptLogException(problem + ", and it is not the last segment", dir));
      return;
    }
    scanTail(i, pos, pos, false, problem);
  }

  /**
   * Looks at every offset after the bad record of the last segment: for a valid record (which
   * makes it corruption) and for any non-zero byte (which must be cut off).
   */
  private void scanTail(int i, long badAt, long start, boolean garbage, String problem) {
    long pos = start;
    boolean sawGarbage = garbage;
    while (pos < size) {
      int available = available(pos);
      if (available < 1) {
        long at = pos;
        boolean g = sawGarbage;
        then(load(at, 1), v -> scanTail(i, badAt, at, g, problem));
        return;
      }
      int rel = (int) (pos - windowStart);
      sawGarbage |= window.get(rel) != 0;
      if (pos > badAt) {
        int r = format.check(window, rel, available, size - pos);
        if (r < 0) {
          long at = pos;
          boolean g = sawGarbage;
          then(load(at, -r), v -> scanTail(i, badAt, at, g, problem));
          return;
        }
        if (r > 0) {
          fail(new CorruptLogException(problem + ", yet a valid record (index "
              + LogRecordFormat.index(window, rel) + ") follows at offset " + pos, dir));
          return;
        }
      }
      pos++;
    }
    cutTornTail(i, badAt, sawGarbage);
  }

  private void cutTornTail(int i, long badAt, boolean garbage) {
    Segment s = segments.get(i);
    if (badAt == 0) {
      LOG.log(System.Logger.Level.WARNING, "Deleting " + s.path
          + ": it holds no complete record (a crash while it was being created)");
      StorageFileSystem.FileHandle h = s.handle;
      s.handle = null;
      then(h.close().compose(v -> fs.delete(s.path)).compose(v -> fs.fsyncDirectory(dir)), v -> {
        segments.remove(i);
        result.complete(entries);
      });
      return;
    }
    s.end = badAt;
    if (!garbage) {
      s.allocated = size;
      result.complete(entries);
      return;
    }
    LOG.log(System.Logger.Level.WARNING, "Cutting a torn tail off " + s.path + " at offset "
        + badAt + " (" + (size - badAt) + " bytes, from a crash during a write)");
    then(fs.truncate(s.path, badAt).compose(v -> s.handle.force()), v -> {
      s.allocated = badAt;
      result.complete(entries);
    });
  }

  private void finishSegment(int i) {
    if (i == segments.size() - 1) {
      result.complete(entries);
      return;
    }
    Segment s = segments.get(i);
    StorageFileSystem.FileHandle h = s.handle;
    s.handle = null;
    then(h.close(), v -> readSegment(i + 1));
  }

  /** @return how many bytes of the file from pos on are in the window */
  private int available(long pos) {
    long inWindow = windowStart + window.capacity() - pos;
    return inWindow <= 0 || pos < windowStart ? 0 : (int) inWindow;
  }

  /** Reads a window starting at pos, of at least minLength bytes (the file has them). */
  private Future<Void> load(long pos, int minLength) {
    int length = (int) Math.min(size - pos, Math.max(READ_CHUNK, minLength));
    Segment s = current;
    return s.handle.read(pos, length).map(buf -> {
      if (buf.length() != length) {
        throw new StorageException("short read of " + s.path + " at offset " + pos + ": "
            + buf.length() + " of " + length + " bytes");
      }
      window = bytesOf(buf);
      windowStart = pos;
      return null;
    });
  }

  /**
   * @param buf a buffer read from a file
   * @return its bytes as a heap buffer whose array holds exactly them, without a copy where the
   *     buffer's own array does (a chunk is 8 MiB: copying it doubles what recovery allocates)
   */
  static ByteBuffer bytesOf(Buffer buf) {
    if (buf instanceof BufferInternal b) {
      ByteBuf bb = b.getByteBuf();
      if (bb.hasArray() && bb.arrayOffset() == 0 && bb.readerIndex() == 0
          && bb.array().length == bb.readableBytes()) {
        return ByteBuffer.wrap(bb.array());
      }
    }
    return ByteBuffer.wrap(buf.getBytes());
  }

  private <T> void then(Future<T> f, Handler<T> next) {
    f.onComplete(ar -> {
      if (ar.failed()) {
        fail(ar.cause());
      } else {
        try {
          next.handle(ar.result());
        } catch (RuntimeException e) {
          fail(e);
        }
      }
    });
  }

  private void fail(Throwable cause) {
    result.tryFail(cause);
  }
}
