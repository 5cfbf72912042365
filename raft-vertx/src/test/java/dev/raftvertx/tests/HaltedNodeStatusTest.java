package dev.raftvertx.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.raftvertx.NodeStatus;
import dev.raftvertx.RaftNode;
import dev.raftvertx.RaftOptions;
import dev.raftvertx.core.StorageWrite;
import dev.raftvertx.impl.storage.FileRaftStorage;
import dev.raftvertx.spi.RaftStorage;
import dev.raftvertx.spi.StoredState;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.junit5.VertxExtension;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * A node that halts (here: its storage fails while it leads) must not go on reporting the role
 * and leader it had: status pages and clients looking for the leader would send it traffic it
 * can no longer serve.
 */
@ExtendWith(VertxExtension.class)
class HaltedNodeStatusTest {

  @TempDir
  Path dir;

  static <T> T await(Future<T> f) {
    try {
      return f.await(30, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new AssertionError("failed: " + (f.cause() != null ? f.cause() : e), e);
    }
  }

  /** File storage whose writes fail once told to, like a disk gone bad. */
  static final class FailingStorage implements RaftStorage {
    final RaftStorage delegate;
    volatile boolean failWrites;

    FailingStorage(RaftStorage delegate) {
      this.delegate = delegate;
    }

    @Override
    public Future<StoredState> open(String clusterId, String nodeId) {
      return delegate.open(clusterId, nodeId);
    }

    @Override
    public Future<Void> write(StorageWrite w) {
      return failWrites ? Future.failedFuture(new IOException("injected: disk failed"))
          : delegate.write(w);
    }

    @Override
    public Future<Void> compact(long snapshotIndex) {
      return delegate.compact(snapshotIndex);
    }

    @Override
    public Future<Void> reset(long nextIndex) {
      return delegate.reset(nextIndex);
    }

    @Override
    public Future<Void> close() {
      return delegate.close();
    }
  }

  @Test
  void aHaltedLeaderReportsTheHaltAndNoLeadership(Vertx vertx) throws Exception {
    RaftOptions options = new RaftOptions().setNodeId("n1").setClusterId("halt")
        .setPeers(Map.of("n1", "local")).setDataDir(dir.resolve("n1").toString());
    FailingStorage storage = new FailingStorage(new FileRaftStorage(vertx, dir.resolve("n1")));
    RaftNode node = await(RaftNode.deploy(vertx, options, new MapStateMachine(), storage, null));
    try {
      long deadline = System.currentTimeMillis() + 30_000;
      while (!await(node.status()).isLeader()) {
        assertTrue(System.currentTimeMillis() < deadline, "a single node elects itself");
        Thread.sleep(20);
      }
      await(node.propose(Buffer.buffer("a=1")));
      NodeStatus leading = await(node.status());
      assertEquals("n1", leading.leaderId());
      assertNull(leading.error());

      storage.failWrites = true;
      Future<?> failed = node.propose(Buffer.buffer("b=2"));
      try {
        failed.await(30, TimeUnit.SECONDS);
      } catch (Exception expected) {
        // the write cannot be made durable: the node halts
      }
      assertTrue(failed.failed(), "a proposal whose write failed is not acknowledged");

      NodeStatus halted = await(node.status());
      assertNotNull(halted.error(), "the status says why the node halted");
      assertTrue(halted.error().contains("storage write failed"), halted.error());
      assertFalse(halted.isLeader(), "a halted node does not claim leadership: " + halted);
      assertEquals("follower", halted.role());
      assertNull(halted.leaderId(), "a halted node names no leader to follow");
      assertEquals(Map.of(), halted.matchIndex());
      assertEquals(Map.of(), halted.nextIndex());
      assertEquals("follower", halted.toJson().getString("role"));
      assertEquals("follower", node.stats().role(), "the role gauge agrees");
    } finally {
      await(node.close());
    }
  }
}
