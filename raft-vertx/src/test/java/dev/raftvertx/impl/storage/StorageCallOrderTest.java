package dev.raftvertx.impl.storage;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.raftvertx.core.EntryType;
import dev.raftvertx.core.HardState;
import dev.raftvertx.core.LogEntry;
import dev.raftvertx.core.StorageWrite;
import dev.raftvertx.spi.StoredState;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.internal.ContextInternal;
import io.vertx.junit5.VertxExtension;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * The storage runs calls in the order they were made even when they come from a duplicate of its
 * context (a timer or a message handler in Vert.x 5) and from the context itself in one turn of
 * the event loop: the node's tick wrote from a timer's duplicate context, and a write made right
 * after on the context itself used to overtake it ("appends index N but the log continues at M").
 */
@ExtendWith(VertxExtension.class)
class StorageCallOrderTest {

  @TempDir
  Path tmp;

  static List<LogEntry> entries(long from, long to) {
    List<LogEntry> out = new ArrayList<>();
    for (long i = from; i <= to; i++) {
      out.add(new LogEntry(i, 1, EntryType.COMMAND, 0, 0, 0, new byte[] {(byte) i}));
    }
    return out;
  }

  @Test
  void writesFromADuplicateContextAndTheContextKeepTheirOrder(Vertx vertx) throws Exception {
    ContextInternal root = (ContextInternal) vertx.getOrCreateContext();
    FileRaftStorage storage = new FileRaftStorage(vertx, tmp.resolve("n1"));
    Promise<List<Future<Void>>> issued = Promise.promise();
    root.runOnContext(v -> storage.open("c", "n1").onSuccess(state -> {
      List<Future<Void>> writes = new ArrayList<>();
      ContextInternal timer = root.duplicate();
      timer.emit(x -> {
        writes.add(storage.write(new StorageWrite(1, 0, entries(1, 3), new HardState(1, null))));
        // Still in this turn: a call made on the storage's own context.
        root.emit(y -> writes.add(storage.write(new StorageWrite(2, 0, entries(4, 6), null))));
        writes.add(storage.write(new StorageWrite(3, 0, entries(7, 7), null)));
      });
      issued.complete(writes);
    }).onFailure(issued::fail));
    List<Future<Void>> writes = issued.future().await(30, TimeUnit.SECONDS);
    Future.all(writes).await(30, TimeUnit.SECONDS);
    storage.close().await(30, TimeUnit.SECONDS);

    FileRaftStorage reopened = new FileRaftStorage(vertx, tmp.resolve("n1"));
    StoredState state = reopened.open("c", "n1").await(30, TimeUnit.SECONDS);
    assertEquals(entries(1, 7), state.entries());
    reopened.close().await(30, TimeUnit.SECONDS);
  }
}
