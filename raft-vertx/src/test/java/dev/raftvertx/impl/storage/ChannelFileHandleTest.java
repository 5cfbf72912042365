package dev.raftvertx.impl.storage;

import static dev.raftvertx.impl.storage.StorageTestSupport.await;
import static dev.raftvertx.impl.storage.StorageTestSupport.failure;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.Unpooled;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.internal.buffer.BufferInternal;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link ChannelFileHandle}: operations run in call order, complete in call order on the context
 * that opened the file, batches of writes land intact, and a failed write makes the forces after
 * it fail instead of reporting anything durable.
 */
class ChannelFileHandleTest {

  @TempDir
  Path dir;

  private Vertx vertx;
  private Context context;
  private final StorageTestSupport.BlockedThreadWatch watch =
      new StorageTestSupport.BlockedThreadWatch();

  @BeforeEach
  void setUp() {
    vertx = Vertx.vertx();
    context = vertx.getOrCreateContext();
    watch.start();
  }

  @AfterEach
  void tearDown() throws Exception {
    try {
      watch.stop();
    } finally {
      vertx.close().await(30, TimeUnit.SECONDS);
    }
  }

  /** Runs an action on the context and waits for its future. */
  private <T> T onContext(java.util.function.Supplier<Future<T>> action) throws Exception {
    return await(Future.<T>future(p -> context.runOnContext(v -> action.get().onComplete(p))));
  }

  private StorageFileSystem.FileHandle open(Path file) throws Exception {
    return onContext(() -> ChannelFileHandle.open(vertx, file.toString()));
  }

  @Test
  void manyWritesIssuedAtOnceLandIntactAndCompleteInCallOrderOnTheContext() throws Exception {
    Path file = dir.resolve("log");
    StorageFileSystem.FileHandle h = open(file);
    Random random = new Random(42);
    byte[] expected = new byte[0];
    List<byte[]> chunks = new ArrayList<>();
    for (int i = 0; i < 500; i++) {
      byte[] chunk = new byte[1 + random.nextInt(300)];
      random.nextBytes(chunk);
      chunks.add(chunk);
    }
    List<String> completions = Collections.synchronizedList(new ArrayList<>());
    List<Thread> threads = Collections.synchronizedList(new ArrayList<>());
    Thread[] contextThread = new Thread[1];
    onContext(() -> {
      contextThread[0] = Thread.currentThread();
      List<Future<?>> all = new ArrayList<>();
      long position = 0;
      for (int i = 0; i < chunks.size(); i++) {
        String name = "write " + i;
        all.add(h.write(Buffer.buffer(chunks.get(i)), position).onComplete(ar -> {
          completions.add(name);
          threads.add(Thread.currentThread());
        }));
        position += chunks.get(i).length;
        if (i % 50 == 49) {
          String force = "force " + i;
          all.add(h.force().onComplete(ar -> {
            completions.add(force);
            threads.add(Thread.currentThread());
          }));
        }
      }
      return Future.all(all).mapEmpty();
    });
    List<String> order = new ArrayList<>();
    for (int i = 0; i < chunks.size(); i++) {
      order.add("write " + i);
      if (i % 50 == 49) {
        order.add("force " + i);
      }
    }
    assertEquals(order, completions);
    for (Thread t : threads) {
      assertSame(contextThread[0], t, "completed off the context's thread");
    }
    for (byte[] c : chunks) {
      int at = expected.length;
      expected = Arrays.copyOf(expected, at + c.length);
      System.arraycopy(c, 0, expected, at, c.length);
    }
    assertArrayEquals(expected, Files.readAllBytes(file));
    onContext(h::close);
  }

  @Test
  void compositeBuffersLandWholeAlsoWhenBatchedWithOtherWrites() throws Exception {
    // As the log writes records followed by preallocated zeros: one buffer of two parts.
    Path file = dir.resolve("composite");
    StorageFileSystem.FileHandle h = open(file);
    byte[] zeros = new byte[100];
    ByteArrayOutputStream expected = new ByteArrayOutputStream();
    List<Future<Void>> writes = new ArrayList<>();
    long at = 0;
    for (int i = 0; i < 200; i++) {
      byte[] record = ("record " + i + ";").getBytes(StandardCharsets.US_ASCII);
      Buffer data = i % 3 == 0
          ? BufferInternal.buffer(Unpooled.wrappedBuffer(ByteBuffer.wrap(record),
              ByteBuffer.wrap(zeros, 0, i % 100).asReadOnlyBuffer()))
          : Buffer.buffer(record);
      long position = at;
      writes.add(Future.<Void>future(p -> context.runOnContext(v ->
          h.write(data, position).onComplete(p))));
      expected.write(record);
      if (i % 3 == 0) {
        expected.write(zeros, 0, i % 100);
      }
      at += data.length();
    }
    await(Future.all(writes));
    onContext(h::force);
    onContext(h::close);
    assertArrayEquals(expected.toByteArray(), Files.readAllBytes(file));
  }

  @Test
  void overlappingWritesLandInCallOrderAndReadsSeeEarlierWrites() throws Exception {
    Path file = dir.resolve("overlap");
    StorageFileSystem.FileHandle h = open(file);
    // As the log does: a record followed by zeros ahead, then the next record over those zeros.
    byte[] first = new byte[1000];
    first[0] = 1;
    Buffer read = onContext(() -> {
      h.write(Buffer.buffer(first), 0);
      h.write(Buffer.buffer(new byte[] {2, 2}), 1);
      h.write(Buffer.buffer(new byte[] {3}), 3);
      Future<Long> size = h.size();
      return h.read(0, 5).compose(b -> size.map(s -> {
        assertEquals(1000L, s);
        return b;
      }));
    });
    assertArrayEquals(new byte[] {1, 2, 2, 3, 0}, read.getBytes());
    assertEquals(0, onContext(() -> h.read(2000, 10)).length(), "nothing past the end");
    onContext(h::close);
  }

  @Test
  void aFailedWriteFailsItselfAndEveryLaterWriteAndForce() throws Exception {
    Path file = dir.resolve("failing");
    StorageFileSystem.FileHandle h = open(file);
    List<Future<Void>> results = new ArrayList<>();
    onContext(() -> {
      results.add(h.write(Buffer.buffer(new byte[] {1}), 0));
      results.add(h.force());
      // A negative position makes the channel refuse the write.
      results.add(h.write(Buffer.buffer(new byte[] {2}), -5));
      results.add(h.write(Buffer.buffer(new byte[] {3}), 1));
      results.add(h.force());
      return Future.join(results).transform(ar -> Future.succeededFuture());
    });
    assertTrue(results.get(0).succeeded());
    assertTrue(results.get(1).succeeded());
    assertInstanceOf(IllegalArgumentException.class, results.get(2).cause());
    assertInstanceOf(IOException.class, results.get(3).cause());
    assertTrue(results.get(3).cause().getMessage().contains("an earlier write"),
        results.get(3).cause().getMessage());
    assertTrue(results.get(4).failed(), "a force after a failed write must fail");
    assertInstanceOf(IOException.class, failure(Future.<Void>future(p -> context.runOnContext(
        v -> h.force().onComplete(p)))));
    assertArrayEquals(new byte[] {1}, Files.readAllBytes(file), "nothing written after it");
    onContext(h::close);
  }

  @Test
  void operationsAfterCloseFail() throws Exception {
    StorageFileSystem.FileHandle h = open(dir.resolve("closed"));
    onContext(h::close);
    onContext(h::close);
    Throwable write = failure(Future.<Void>future(p -> context.runOnContext(
        v -> h.write(Buffer.buffer(new byte[] {1}), 0).onComplete(p))));
    assertTrue(write.getMessage().contains("is closed"), write.getMessage());
    Throwable force = failure(Future.<Void>future(p -> context.runOnContext(
        v -> h.force().onComplete(p))));
    assertTrue(force.getMessage().contains("is closed"), force.getMessage());
  }
}
