package dev.raftvertx.kv;

import dev.raftvertx.StateMachine;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.streams.ReadStream;
import io.vertx.core.streams.WriteStream;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;

/**
 * The key-value state machine: a map from string keys to string values. Deterministic; runs on
 * the node's context only.
 *
 * <p>Commands are {@link KvCommand}s; results, queries and answers are in {@link KvCodec}'s
 * binary forms: a delete says whether the key existed, a compare-and-set whether it swapped and
 * the value before the command; a query names a key and is answered with its value or null.
 *
 * <p><b>Snapshots without pausing writes:</b> the state is a base map plus, while a snapshot is
 * being written, an overlay of the changes made since it started. {@link #snapshot} freezes the
 * base in O(1) and streams it; writes meanwhile go to the overlay (a deletion is recorded as a
 * null value), and reads look at the overlay first. Once the snapshot is written the overlay is
 * folded into the base, a cost proportional to the keys changed during the snapshot, never to the
 * size of the state.
 *
 * <p><b>Snapshot format</b> (big-endian): magic {@code "KVS1"} int; then per entry the key's
 * UTF-8 length int and bytes, the value's UTF-8 length int and bytes; then -1 int and the number
 * of entries long. Written in chunks of about {@link #SNAPSHOT_CHUNK_BYTES}, one chunk per
 * event-loop turn.
 */
public final class KvStateMachine implements StateMachine {

  /** About how many bytes of entries each snapshot chunk holds. */
  static final int SNAPSHOT_CHUNK_BYTES = 64 << 10;

  private static final int MAGIC = 0x4B565331;
  private static final int END = -1;

  /** The state; frozen (not changed) while a snapshot of it is being written. */
  private HashMap<String, String> base = new HashMap<>();
  /** The changes since the snapshot being written began (null value: deleted), or null. */
  private HashMap<String, String> overlay;
  private int size;

  @Override
  public Buffer apply(long index, Buffer command) {
    KvCommand c;
    try {
      c = KvCommand.decode(command);
    } catch (RuntimeException e) {
      // Only the HTTP layer proposes, with valid commands; a foreign command changes nothing.
      return Buffer.buffer("malformed command: " + e.getMessage());
    }
    if (c instanceof KvCommand.Put p) {
      put(p.key(), p.value());
      return KvCodec.putResult();
    }
    if (c instanceof KvCommand.Delete d) {
      return KvCodec.deleteResult(remove(d.key()));
    }
    KvCommand.CompareAndSet cas = (KvCommand.CompareAndSet) c;
    String current = get(cas.key());
    boolean swap = java.util.Objects.equals(current, cas.expect());
    if (swap) {
      put(cas.key(), cas.value());
    }
    return KvCodec.casResult(swap, current);
  }

  @Override
  public Buffer query(Buffer query) {
    return KvCodec.answer(get(KvCodec.queryKey(query)));
  }

  /** @return the number of keys */
  public int size() {
    return size;
  }

  private String get(String key) {
    if (overlay != null && overlay.containsKey(key)) {
      return overlay.get(key);
    }
    return base.get(key);
  }

  private void put(String key, String value) {
    if (get(key) == null) {
      size++;
    }
    (overlay != null ? overlay : base).put(key, value);
  }

  private boolean remove(String key) {
    if (get(key) == null) {
      return false;
    }
    size--;
    if (overlay != null) {
      overlay.put(key, null);
    } else {
      base.remove(key);
    }
    return true;
  }

  /**
   * Freezes the current map and streams it (see the class documentation); fails with an
   * {@link IllegalStateException} if a snapshot is already being written or if not called on a
   * Vert.x context.
   */
  @Override
  public Future<Void> snapshot(WriteStream<Buffer> out) {
    Context context = Vertx.currentContext();
    if (context == null) {
      return Future.failedFuture(new IllegalStateException("snapshot() must be called on the"
          + " node's context"));
    }
    if (overlay != null) {
      return Future.failedFuture(new IllegalStateException("a snapshot is already being"
          + " written"));
    }
    HashMap<String, String> frozen = base;
    overlay = new HashMap<>();
    return new SnapshotWriting(frozen, out, context).start().andThen(ar -> {
      if (base == frozen) {
        foldOverlay();
      }
    });
  }

  /** Applies the changes made during the snapshot to the base, which is no longer frozen. */
  private void foldOverlay() {
    for (Map.Entry<String, String> e : overlay.entrySet()) {
      if (e.getValue() == null) {
        base.remove(e.getKey());
      } else {
        base.put(e.getKey(), e.getValue());
      }
    }
    overlay = null;
  }

  /**
   * Reads a snapshot into a new map and swaps it in at the end; on a failed or malformed stream
   * the state is unchanged and the future fails (an {@link IllegalArgumentException} for
   * malformed data).
   */
  @Override
  public Future<Void> restore(ReadStream<Buffer> in) {
    Promise<Void> done = Promise.promise();
    SnapshotParser parser = new SnapshotParser();
    in.exceptionHandler(done::tryFail);
    in.endHandler(v -> {
      if (done.future().isComplete()) {
        return;
      }
      try {
        HashMap<String, String> restored = parser.finish();
        base = restored;
        overlay = null;
        size = restored.size();
        done.complete();
      } catch (IllegalArgumentException e) {
        done.fail(e);
      }
    });
    in.handler(chunk -> {
      if (done.future().isComplete()) {
        return;
      }
      try {
        parser.feed(chunk);
      } catch (IllegalArgumentException e) {
        in.pause();
        done.fail(e);
      }
    });
    return done.future();
  }

  /** Streams a frozen map in chunks, one per event-loop turn, with back-pressure. */
  private static final class SnapshotWriting {
    private final Iterator<Map.Entry<String, String>> entries;
    private final WriteStream<Buffer> out;
    private final Context context;
    private final Promise<Void> done = Promise.promise();
    private long count;
    private boolean headerWritten;
    private boolean allWritten;
    private int pendingWrites;

    SnapshotWriting(HashMap<String, String> frozen, WriteStream<Buffer> out, Context context) {
      this.entries = frozen.entrySet().iterator();
      this.out = out;
      this.context = context;
    }

    Future<Void> start() {
      writeChunk();
      return done.future();
    }

    private void writeChunk() {
      if (done.future().isComplete()) {
        return;
      }
      Buffer chunk = Buffer.buffer(SNAPSHOT_CHUNK_BYTES + 1024);
      if (!headerWritten) {
        chunk.appendInt(MAGIC);
        headerWritten = true;
      }
      while (entries.hasNext() && chunk.length() < SNAPSHOT_CHUNK_BYTES) {
        Map.Entry<String, String> e = entries.next();
        byte[] key = e.getKey().getBytes(StandardCharsets.UTF_8);
        byte[] value = e.getValue().getBytes(StandardCharsets.UTF_8);
        chunk.appendInt(key.length).appendBytes(key).appendInt(value.length).appendBytes(value);
        count++;
      }
      if (!entries.hasNext()) {
        chunk.appendInt(END).appendLong(count);
        allWritten = true;
      }
      pendingWrites++;
      out.write(chunk).onComplete(ar -> {
        pendingWrites--;
        if (ar.failed()) {
          done.tryFail(ar.cause());
        } else if (allWritten && pendingWrites == 0) {
          done.tryComplete();
        }
      });
      if (allWritten) {
        return;
      }
      if (out.writeQueueFull()) {
        out.drainHandler(v -> {
          out.drainHandler(null);
          writeChunk();
        });
      } else {
        context.runOnContext(v -> writeChunk());
      }
    }
  }

  /** Parses a snapshot from chunks that may split records anywhere. */
  private static final class SnapshotParser {
    private final HashMap<String, String> map = new HashMap<>();
    private Buffer pending = Buffer.buffer();
    private boolean headerRead;
    private boolean ended;

    /**
     * Parses every complete record in what was received so far.
     *
     * @param chunk the next bytes of the snapshot; not modified
     */
    void feed(Buffer chunk) {
      Buffer data = pending.length() == 0 ? chunk : pending.appendBuffer(chunk);
      int pos = 0;
      if (!headerRead) {
        if (data.length() < 4) {
          pending = data.copy();
          return;
        }
        if (data.getInt(0) != MAGIC) {
          throw new IllegalArgumentException("not a key-value snapshot (no KVS1 magic)");
        }
        headerRead = true;
        pos = 4;
      }
      while (!ended && data.length() - pos >= 4) {
        int keyLength = data.getInt(pos);
        if (keyLength == END) {
          if (data.length() - pos < 12) {
            break;
          }
          long count = data.getLong(pos + 4);
          if (count != map.size()) {
            throw new IllegalArgumentException("the snapshot says it holds " + count
                + " entries but " + map.size() + " were read");
          }
          ended = true;
          pos += 12;
          break;
        }
        if (keyLength < 0) {
          throw new IllegalArgumentException("a negative key length in the snapshot");
        }
        if (data.length() - pos < 8L + keyLength) {
          break;
        }
        int valueLength = data.getInt(pos + 4 + keyLength);
        if (valueLength < 0) {
          throw new IllegalArgumentException("a negative value length in the snapshot");
        }
        long recordLength = 8L + keyLength + valueLength;
        if (data.length() - pos < recordLength) {
          break;
        }
        String key = data.getString(pos + 4, pos + 4 + keyLength,
            StandardCharsets.UTF_8.name());
        String value = data.getString(pos + 8 + keyLength, (int) (pos + recordLength),
            StandardCharsets.UTF_8.name());
        if (map.put(key, value) != null) {
          throw new IllegalArgumentException("the snapshot holds key " + key + " twice");
        }
        pos += (int) recordLength;
      }
      if (ended && pos < data.length()) {
        throw new IllegalArgumentException("bytes after the end of the snapshot");
      }
      // Keep the unparsed rest; a record split across chunks grows our own buffer in place.
      if (pos == data.length()) {
        pending = Buffer.buffer();
      } else if (data == chunk || pos > 0) {
        pending = data.getBuffer(pos, data.length());
      } else {
        pending = data;
      }
    }

    HashMap<String, String> finish() {
      if (!ended) {
        throw new IllegalArgumentException("the snapshot ends before its last entry");
      }
      return map;
    }
  }

  /**
   * How the web UI labels an entry of the key-value log: {@code put k=v}, {@code delete k},
   * {@code cas k: old -> new}; other entries as the UI does by default.
   *
   * @param entry the entry, with the start of its payload
   * @return its label
   */
  public static String label(dev.raftvertx.LogEntryInfo entry) {
    if (!"command".equals(entry.type()) || !entry.complete()) {
      return dev.raftvertx.webui.WebUi.defaultLabel(entry);
    }
    KvCommand c;
    try {
      c = KvCommand.decode(entry.data());
    } catch (RuntimeException e) {
      return dev.raftvertx.webui.WebUi.defaultLabel(entry);
    }
    if (c instanceof KvCommand.Put p) {
      return "put " + p.key() + "=" + p.value();
    }
    if (c instanceof KvCommand.Delete d) {
      return "delete " + d.key();
    }
    KvCommand.CompareAndSet cas = (KvCommand.CompareAndSet) c;
    return "cas " + cas.key() + ": " + cas.expect() + " -> " + cas.value();
  }
}
