package dev.raftvertx.kv;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.raftvertx.core.Configuration;
import dev.raftvertx.impl.storage.FileSnapshotStore;
import dev.raftvertx.spi.CorruptSnapshotException;
import dev.raftvertx.spi.SnapshotMeta;
import dev.raftvertx.spi.SnapshotWriter;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.streams.ReadStream;
import io.vertx.core.streams.WriteStream;
import io.vertx.junit5.VertxExtension;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** Snapshots of the key-value state machine: consistent cuts while writes go on, atomic restore. */
@ExtendWith(VertxExtension.class)
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class KvStateMachineSnapshotTest {

  private static final long TIMEOUT_SECONDS = 60;
  private static final Configuration CONFIGURATION =
      Configuration.of(Map.of("n1", "127.0.0.1:7001"));

  @TempDir
  Path tmp;

  private Vertx vertx;
  private Context context;
  private FileSnapshotStore store;
  private long index;
  private final List<String> blockedThreadWarnings =
      Collections.synchronizedList(new ArrayList<>());
  private final Logger blockedThreadLogger =
      Logger.getLogger("io.vertx.core.impl.BlockedThreadChecker");
  private final java.util.logging.Handler blockedThreadHandler = new java.util.logging.Handler() {
    @Override
    public void publish(LogRecord record) {
      blockedThreadWarnings.add(record.getMessage());
    }

    @Override
    public void flush() {
    }

    @Override
    public void close() {
    }
  };

  @BeforeEach
  void setUp(Vertx vertx) throws Exception {
    this.vertx = vertx;
    this.context = vertx.getOrCreateContext();
    blockedThreadLogger.addHandler(blockedThreadHandler);
    store = new FileSnapshotStore(vertx, tmp.resolve(FileSnapshotStore.DIRECTORY));
    on(() -> store.load());
  }

  @AfterEach
  void tearDown() throws Exception {
    await(store.close());
    blockedThreadLogger.removeHandler(blockedThreadHandler);
    assertEquals(List.of(), blockedThreadWarnings, "an event loop was blocked");
  }

  @Test
  void aSnapshotIsTheStateAtTheCutWhileWritesGoOnDuringIt() throws Exception {
    KvStateMachine kv = new KvStateMachine();
    Map<String, String> model = new HashMap<>();
    on(() -> fill(kv, model, 100_000, 100));

    Map<String, String> atCut = new HashMap<>();
    int[] turnsDuringSnapshot = new int[1];
    SnapshotWriter[] writer = new SnapshotWriter[1];
    on(() -> {
      // The cut, as the node takes it: writer and snapshot in one turn, between two applies.
      atCut.putAll(model);
      writer[0] = store.create(SnapshotMeta.of(index, 1, CONFIGURATION, new byte[0])).result();
      Future<Void> snapshot = kv.snapshot(writer[0].stream());
      Random random = new Random(3);
      Promise<Void> done = Promise.promise();
      Runnable[] turn = new Runnable[1];
      turn[0] = () -> {
        if (snapshot.isComplete()) {
          snapshot.onComplete(done);
          return;
        }
        turnsDuringSnapshot[0]++;
        for (int i = 0; i < 20; i++) {
          String key = "key-" + random.nextInt(120_000);
          switch (random.nextInt(4)) {
            case 0 -> apply(kv, model, new KvCommand.Put(key, "changed-" + index));
            case 1 -> apply(kv, model, new KvCommand.Delete(key));
            case 2 -> apply(kv, model, new KvCommand.CompareAndSet(key, model.get(key),
                "swapped-" + index));
            default -> apply(kv, model, new KvCommand.Put("new-" + index, "fresh"));
          }
        }
        context.runOnContext(v -> turn[0].run());
      };
      turn[0].run();
      return done.future();
    });
    assertTrue(turnsDuringSnapshot[0] > 10,
        "writes were applied during the snapshot in " + turnsDuringSnapshot[0] + " turns");
    assertTrue(!model.equals(atCut), "the writes changed the state");

    SnapshotMeta meta = await(writer[0].commit());
    assertTrue(meta.size() > 10 << 20, "a snapshot of " + meta.size() + " bytes");
    KvStateMachine restored = new KvStateMachine();
    on(() -> store.open(meta).compose(restored::restore));
    assertState(atCut, restored);
    assertState(model, kv);

    // The changes made during the snapshot were folded in: the next snapshot holds them.
    SnapshotWriter next = await(store.create(SnapshotMeta.of(index + 1, 1, CONFIGURATION,
        new byte[0])));
    on(() -> kv.snapshot(next.stream()));
    SnapshotMeta nextMeta = await(next.commit());
    KvStateMachine again = new KvStateMachine();
    on(() -> store.open(nextMeta).compose(again::restore));
    assertState(model, again);
  }

  @Test
  void aSecondSnapshotWhileOneIsBeingWrittenIsRefused() throws Exception {
    KvStateMachine kv = new KvStateMachine();
    Map<String, String> model = new HashMap<>();
    on(() -> fill(kv, model, 10, 10));
    MemoryWriteStream first = new MemoryWriteStream();
    first.holding = true;
    MemoryWriteStream second = new MemoryWriteStream();
    Throwable refused = on(() -> {
      Future<Void> running = kv.snapshot(first);
      Future<Void> again = kv.snapshot(second);
      first.release();
      return running.map(v -> again.cause());
    });
    assertInstanceOf(IllegalStateException.class, refused);
    assertTrue(refused.getMessage().contains("already being written"), refused.getMessage());
    assertEquals(0, second.data.length());
    assertInstanceOf(IllegalStateException.class, kv.snapshot(second).cause(),
        "not on a Vert.x context");
  }

  @Test
  void restoreSwapsTheStateInOnlyAfterReadingAllOfAValidSnapshot() throws Exception {
    KvStateMachine source = new KvStateMachine();
    on(() -> fill(source, new HashMap<>(), 2_000, 50));
    KvStateMachine kv = new KvStateMachine();
    Map<String, String> before = new HashMap<>();
    before.put("only-here", "kept");
    on(() -> {
      apply(kv, before, new KvCommand.Put("only-here", "kept"));
      return Future.succeededFuture();
    });

    // Corrupt data: the reader fails on the checksum at the end, after delivering all the data.
    SnapshotWriter w = await(store.create(SnapshotMeta.of(100, 1, CONFIGURATION, new byte[0])));
    on(() -> source.snapshot(w.stream()));
    SnapshotMeta meta = await(w.commit());
    Path file;
    try (Stream<Path> files = Files.list(tmp.resolve(FileSnapshotStore.DIRECTORY))) {
      file = files.findFirst().orElseThrow();
    }
    // The last byte of the last value, a digit: flipped, it is another digit, so the data still
    // parses and only the checksum tells.
    long digit = meta.size() - 13;
    try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
      raf.seek(digit);
      int b = raf.read();
      raf.seek(digit);
      raf.write(b ^ 0x01);
    }
    Throwable corrupt = failure(on(() -> Future.succeededFuture(
        store.open(meta).compose(kv::restore))));
    assertInstanceOf(CorruptSnapshotException.class, corrupt);
    assertState(before, kv);

    // Malformed data, intact checksums.
    Throwable foreign = restoreFrom(kv, List.of(Buffer.buffer("not a snapshot at all")));
    assertTrue(foreign.getMessage().contains("not a key-value snapshot"), foreign.getMessage());
    MemoryWriteStream valid = new MemoryWriteStream();
    on(() -> source.snapshot(valid));
    Buffer whole = valid.data;
    Throwable cut = restoreFrom(kv, List.of(whole.getBuffer(0, whole.length() - 12)));
    assertTrue(cut.getMessage().contains("ends before its last entry"), cut.getMessage());
    Throwable extra = restoreFrom(kv, List.of(whole.copy().appendByte((byte) 0)));
    assertTrue(extra.getMessage().contains("after the end"), extra.getMessage());
    Buffer miscounted = whole.copy();
    miscounted.setLong(whole.length() - 8, 7);
    Throwable count = restoreFrom(kv, List.of(miscounted));
    assertTrue(count.getMessage().contains("holds 7 entries but 2000 were read"),
        count.getMessage());
    assertState(before, kv);
  }

  @Test
  void restoreParsesRecordsSplitAnywhereAcrossChunks() throws Exception {
    KvStateMachine source = new KvStateMachine();
    Map<String, String> model = new HashMap<>();
    on(() -> {
      fill(source, model, 300, 30);
      apply(source, model, new KvCommand.Put("", "empty key"));
      apply(source, model, new KvCommand.Put("empty value", ""));
      apply(source, model, new KvCommand.Put("unicode ключ ✓", "значение 🎉"));
      apply(source, model, new KvCommand.Put("big", "x".repeat(200_000)));
      return Future.succeededFuture();
    });
    MemoryWriteStream out = new MemoryWriteStream();
    on(() -> source.snapshot(out));
    Buffer whole = out.data;
    List<Buffer> pieces = new ArrayList<>();
    Random random = new Random(11);
    for (int pos = 0; pos < whole.length(); ) {
      int n = Math.min(whole.length() - pos, 1 + random.nextInt(random.nextBoolean() ? 5 : 5000));
      pieces.add(whole.getBuffer(pos, pos + n));
      pos += n;
    }
    KvStateMachine restored = new KvStateMachine();
    on(() -> restored.restore(new MemoryReadStream(context, pieces)));
    assertState(model, restored);
  }

  // =====================================================================================
  // Helpers
  // =====================================================================================

  /** Applies puts of count keys with values of the given size, a batch per event-loop turn. */
  private Future<Void> fill(KvStateMachine kv, Map<String, String> model, int count,
      int valueSize) {
    Promise<Void> done = Promise.promise();
    int[] next = new int[1];
    Runnable[] batch = new Runnable[1];
    batch[0] = () -> {
      for (int i = 0; i < 2_000 && next[0] < count; i++, next[0]++) {
        String value = Integer.toString(next[0]).repeat(valueSize).substring(0, valueSize);
        apply(kv, model, new KvCommand.Put("key-" + next[0], value));
      }
      if (next[0] < count) {
        context.runOnContext(v -> batch[0].run());
      } else {
        done.complete();
      }
    };
    batch[0].run();
    return done.future();
  }

  /** Applies a command to the state machine and to the model of what it should hold. */
  private void apply(KvStateMachine kv, Map<String, String> model, KvCommand c) {
    kv.apply(++index, c.encode());
    if (c instanceof KvCommand.Put p) {
      model.put(p.key(), p.value());
    } else if (c instanceof KvCommand.Delete d) {
      model.remove(d.key());
    } else if (c instanceof KvCommand.CompareAndSet cas
        && java.util.Objects.equals(model.get(cas.key()), cas.expect())) {
      model.put(cas.key(), cas.value());
    }
  }

  private static void assertState(Map<String, String> expected, KvStateMachine kv) {
    assertEquals(expected.size(), kv.size());
    for (Map.Entry<String, String> e : expected.entrySet()) {
      assertEquals(e.getValue(), KvCodec.value(kv.query(KvCodec.query(e.getKey()))),
          "the value of " + e.getKey());
    }
  }

  private Throwable restoreFrom(KvStateMachine kv, List<Buffer> pieces) throws Exception {
    return failure(on(() -> Future.succeededFuture(kv.restore(new MemoryReadStream(context,
        pieces)))));
  }

  /** Runs an action on the test's context and waits for its result. */
  private <T> T on(Supplier<Future<T>> action) throws Exception {
    Promise<T> result = Promise.promise();
    context.runOnContext(v -> action.get().onComplete(result));
    return await(result.future());
  }

  private static <T> T await(Future<T> f) throws Exception {
    try {
      return f.toCompletionStage().toCompletableFuture().get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      throw new AssertionError("unexpected failure: " + e.getCause(), e.getCause());
    }
  }

  private static Throwable failure(Future<?> f) throws Exception {
    try {
      f.toCompletionStage().toCompletableFuture().get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      return e.getCause();
    }
    throw new AssertionError("expected a failure");
  }

  /**
   * Collects what is written; its queue is never full. While holding, writes complete only when
   * released.
   */
  private static final class MemoryWriteStream implements WriteStream<Buffer> {
    final Buffer data = Buffer.buffer();
    boolean holding;
    private final List<Promise<Void>> held = new ArrayList<>();

    void release() {
      holding = false;
      held.forEach(Promise::complete);
      held.clear();
    }

    @Override
    public WriteStream<Buffer> exceptionHandler(Handler<Throwable> handler) {
      return this;
    }

    @Override
    public Future<Void> write(Buffer chunk) {
      data.appendBuffer(chunk);
      if (!holding) {
        return Future.succeededFuture();
      }
      Promise<Void> written = Promise.promise();
      held.add(written);
      return written.future();
    }

    @Override
    public Future<Void> end() {
      return Future.succeededFuture();
    }

    @Override
    public WriteStream<Buffer> setWriteQueueMaxSize(int maxSize) {
      return this;
    }

    @Override
    public boolean writeQueueFull() {
      return false;
    }

    @Override
    public WriteStream<Buffer> drainHandler(Handler<Void> handler) {
      return this;
    }
  }

  /** Delivers the given pieces, one per event-loop turn, honouring pause and fetch. */
  private static final class MemoryReadStream implements ReadStream<Buffer> {
    private final Context context;
    private final ArrayDeque<Buffer> pieces;
    private Handler<Buffer> handler;
    private Handler<Void> endHandler;
    private long demand = Long.MAX_VALUE;
    private boolean scheduled;

    MemoryReadStream(Context context, List<Buffer> pieces) {
      this.context = context;
      this.pieces = new ArrayDeque<>(pieces);
    }

    @Override
    public ReadStream<Buffer> exceptionHandler(Handler<Throwable> handler) {
      return this;
    }

    @Override
    public ReadStream<Buffer> handler(Handler<Buffer> handler) {
      this.handler = handler;
      schedule();
      return this;
    }

    @Override
    public ReadStream<Buffer> pause() {
      demand = 0;
      return this;
    }

    @Override
    public ReadStream<Buffer> resume() {
      demand = Long.MAX_VALUE;
      schedule();
      return this;
    }

    @Override
    public ReadStream<Buffer> fetch(long amount) {
      demand = Math.min(Long.MAX_VALUE, demand + amount);
      schedule();
      return this;
    }

    @Override
    public ReadStream<Buffer> endHandler(Handler<Void> endHandler) {
      this.endHandler = endHandler;
      return this;
    }

    private void schedule() {
      if (scheduled || handler == null || demand == 0) {
        return;
      }
      scheduled = true;
      context.runOnContext(v -> {
        scheduled = false;
        if (pieces.isEmpty()) {
          if (endHandler != null) {
            Handler<Void> h = endHandler;
            endHandler = null;
            h.handle(null);
          }
          return;
        }
        if (demand == 0 || handler == null) {
          return;
        }
        if (demand != Long.MAX_VALUE) {
          demand--;
        }
        handler.handle(pieces.poll());
        schedule();
      });
    }
  }
}
