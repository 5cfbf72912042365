package dev.raftvertx.impl.storage;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import dev.raftvertx.core.EntryType;
import dev.raftvertx.core.HardState;
import dev.raftvertx.core.LogEntry;
import dev.raftvertx.core.StorageWrite;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.internal.ContextInternal;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Vert.x runs timers and event-bus handlers on duplicated contexts of a verticle's context. The
 * node issues writes from both (its tick timer, its drain task) in one order; the storage must
 * keep that order. It once queued writes from a duplicated context while running writes from the
 * context itself at once, so a later write could overtake an earlier one and fail the storage
 * ("write 7 appends index 7 but the log continues at 5"), halting a leader under load.
 */
class FileRaftStorageContextTest {

  @TempDir
  Path dir;

  static LogEntry entry(long index) {
    return new LogEntry(index, 1, EntryType.COMMAND, 0, 0, 0, new byte[] {(byte) index});
  }

  @Test
  void writesFromADuplicatedContextKeepTheirOrder() throws Exception {
    Vertx vertx = Vertx.vertx();
    try {
      ContextInternal ctx = (ContextInternal) vertx.getOrCreateContext();
      FileRaftStorage storage = new FileRaftStorage(vertx, dir);
      CompletableFuture<Throwable> opened = new CompletableFuture<>();
      ctx.runOnContext(v -> storage.open("c", "n").onComplete(ar -> opened.complete(ar.cause())));
      assertNull(opened.get(30, TimeUnit.SECONDS));

      CompletableFuture<Throwable> written = new CompletableFuture<>();
      ctx.runOnContext(v -> {
        // One event-loop turn: the first write from a duplicated context, the next from the
        // context itself.
        @SuppressWarnings("unchecked")
        Future<Void>[] first = new Future[1];
        ctx.duplicate().emit(null, x -> first[0] = storage.write(
            new StorageWrite(1, 0, List.of(entry(1)), new HardState(1, null))));
        Future<Void> second = storage.write(new StorageWrite(2, 0, List.of(entry(2)), null));
        Future.all(first[0], second).onComplete(ar -> written.complete(ar.cause()));
      });
      assertNull(written.get(30, TimeUnit.SECONDS));
      storage.close().await(30, TimeUnit.SECONDS);

      FileRaftStorage reopened = new FileRaftStorage(vertx, dir);
      assertEquals(List.of(entry(1), entry(2)),
          reopened.open("c", "n").await(30, TimeUnit.SECONDS).entries());
      reopened.close().await(30, TimeUnit.SECONDS);
    } finally {
      vertx.close().await(30, TimeUnit.SECONDS);
    }
  }
}
