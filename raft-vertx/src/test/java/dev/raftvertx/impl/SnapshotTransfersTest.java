package dev.raftvertx.impl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.raftvertx.core.Configuration;
import dev.raftvertx.core.Message;
import dev.raftvertx.core.Message.InstallSnapshot;
import dev.raftvertx.core.Message.SnapshotChunk;
import dev.raftvertx.impl.storage.FileSnapshotStore;
import dev.raftvertx.spi.SnapshotMeta;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.junit5.VertxExtension;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** The chunked InstallSnapshot transfer between two drivers (§7): flow control and resumption. */
@ExtendWith(VertxExtension.class)
class SnapshotTransfersTest {

  private static final Configuration CONFIG = Configuration.of(Set.of("L", "F", "x"));

  @TempDir
  Path dir;

  /** Two nodes' transfers over a lossy in-memory link, run on one context. */
  private final class Link {
    final Context context;
    final FileSnapshotStore leaderStore;
    final FileSnapshotStore followerStore;
    SnapshotTransfers leader;
    SnapshotTransfers follower;
    final List<Boolean> reports = new ArrayList<>();
    final List<InstallSnapshot> installs = new ArrayList<>();
    final List<SnapshotChunk> delivered = new ArrayList<>();
    long commitIndex;
    Predicate<SnapshotChunk> drop = c -> false;
    final Promise<Boolean> reported = Promise.promise();

    Link(Vertx vertx) {
      context = vertx.getOrCreateContext();
      leaderStore = new FileSnapshotStore(vertx, dir.resolve("L"));
      followerStore = new FileSnapshotStore(vertx, dir.resolve("F"));
    }

    SnapshotTransfers.Node node(String id, boolean isLeader) {
      return new SnapshotTransfers.Node() {
        @Override
        public String id() {
          return id;
        }

        @Override
        public long currentTerm() {
          return 3;
        }

        @Override
        public long commitIndex() {
          return isLeader ? 100 : commitIndex;
        }

        @Override
        public void send(Message m) {
          context.runOnContext(v -> {
            if (m instanceof SnapshotChunk c) {
              if (drop.test(c)) {
                return;
              }
              delivered.add(c);
              follower.onChunk(c);
            } else {
              leader.onResponse((Message.SnapshotChunkResponse) m);
            }
          });
        }

        @Override
        public void install(InstallSnapshot m) {
          installs.add(m);
        }

        @Override
        public void report(String peer, boolean ok) {
          reports.add(ok);
          reported.tryComplete(ok);
        }
      };
    }

    /** Takes a snapshot of random data on the leader and starts sending it. */
    SnapshotMeta start(int size) throws Exception {
      return on(() -> leaderStore.load().compose(v -> followerStore.load()).compose(v -> {
        leader = new SnapshotTransfers(node("L", true), leaderStore, 1024, 60_000,
            System::currentTimeMillis);
        follower = new SnapshotTransfers(node("F", false), followerStore, 1024, 60_000,
            System::currentTimeMillis);
        byte[] data = new byte[size];
        new Random(size).nextBytes(data);
        return leaderStore.create(SnapshotMeta.of(50, 2, CONFIG, new byte[] {4, 2}))
            .compose(w -> w.write(0, Buffer.buffer(data)).compose(x -> w.commit()));
      }).onSuccess(meta -> leader.send(new InstallSnapshot(3, "L", "F", 50, 2, CONFIG))));
    }

    <T> T on(java.util.function.Supplier<Future<T>> action) throws Exception {
      Promise<T> p = Promise.promise();
      context.runOnContext(v -> action.get().onComplete(p));
      return p.future().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }

    boolean outcome() throws Exception {
      return reported.future().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }
  }

  @Test
  void snapshotArrivesInChunksAndIsInstalledOnlyOnceDurable(Vertx vertx) throws Exception {
    Link link = new Link(vertx);
    SnapshotMeta sent = link.start(10_000);
    assertTrue(link.outcome());
    assertEquals(10, link.delivered.size(), "10,000 bytes in 1 KiB chunks");
    assertEquals(List.of(new InstallSnapshot(3, "L", "F", 50, 2, CONFIG)), link.installs);
    SnapshotMeta received = link.on(link.followerStore::latest);
    assertEquals(sent, received, "same index, term, configuration, sessions, size and CRC");
  }

  @Test
  void aChunkLostInMidTransferIsResentFromWhereTheFollowerStopped(Vertx vertx) throws Exception {
    Link link = new Link(vertx);
    boolean[] dropped = {false};
    link.drop = c -> {
      if (c.offset() == 3 * 1024 && !dropped[0]) {
        dropped[0] = true;
        return true;
      }
      return false;
    };
    SnapshotMeta sent = link.start(10_000);
    assertTrue(link.outcome());
    assertTrue(dropped[0]);
    assertEquals(List.of(true), link.reports);
    assertEquals(1, link.installs.size());
    assertEquals(sent, link.on(link.followerStore::latest));
    long resentAtLoss = link.delivered.stream().filter(c -> c.offset() == 3 * 1024).count();
    assertEquals(1, resentAtLoss, "the lost chunk arrives once, resent");
    assertTrue(link.delivered.size() < 20, "resumed, not restarted: " + link.delivered.size());
  }

  @Test
  void snapshotTheFollowerAlreadyCommittedPastIsNotTransferred(Vertx vertx) throws Exception {
    Link link = new Link(vertx);
    link.commitIndex = 60;
    link.start(10_000);
    assertTrue(link.outcome());
    assertTrue(link.installs.isEmpty());
    assertEquals(null, link.on(link.followerStore::latest));
    assertTrue(link.delivered.size() <= SnapshotTransfers.WINDOW, "stopped at the first answer");
  }
}
