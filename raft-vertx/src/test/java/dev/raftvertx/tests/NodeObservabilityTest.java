package dev.raftvertx.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.raftvertx.LogEntryInfo;
import dev.raftvertx.NodeStats;
import dev.raftvertx.NodeStatus;
import dev.raftvertx.RaftNode;
import dev.raftvertx.RaftOptions;
import dev.raftvertx.metrics.RaftMetrics;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.junit5.VertxExtension;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * What status pages and metrics see of a running cluster: the extended status (next indexes,
 * snapshot index, cluster id), the log tail, {@link NodeStats} and the Micrometer meters of
 * {@link RaftMetrics}.
 */
@ExtendWith(VertxExtension.class)
class NodeObservabilityTest {

  @TempDir
  Path dir;
  Vertx vertx;
  final Map<String, RaftNode> nodes = new LinkedHashMap<>();
  final MeterRegistry registry = new SimpleMeterRegistry();

  static <T> T await(Future<T> f) {
    try {
      return f.await(30, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new AssertionError("failed: " + (f.cause() != null ? f.cause() : e), e);
    }
  }

  RaftOptions options(String id) {
    Map<String, String> peers = new LinkedHashMap<>();
    for (String n : List.of("n1", "n2", "n3")) {
      peers.put(n, "local");
    }
    return new RaftOptions().setNodeId(id).setClusterId("obs").setPeers(peers)
        .setDataDir(dir.resolve(id).toString());
  }

  @BeforeEach
  void start(Vertx vertx) {
    this.vertx = vertx;
    for (String id : List.of("n1", "n2", "n3")) {
      RaftNode node = await(RaftNode.deploy(vertx, options(id), new MapStateMachine()));
      RaftMetrics.bind(node, registry);
      nodes.put(id, node);
    }
  }

  @AfterEach
  void stop() {
    for (RaftNode n : nodes.values()) {
      await(n.close());
    }
  }

  void eventually(String what, BooleanSupplier condition) {
    long deadline = System.currentTimeMillis() + 30_000;
    while (!condition.getAsBoolean()) {
      if (System.currentTimeMillis() > deadline) {
        throw new AssertionError("not within 30 s: " + what);
      }
      await(Future.future(p -> vertx.setTimer(20, t -> p.complete())));
    }
  }

  String leader() {
    String[] found = new String[1];
    eventually("a leader", () -> {
      for (RaftNode n : nodes.values()) {
        if (await(n.status()).isLeader()) {
          found[0] = n.id();
          return true;
        }
      }
      return false;
    });
    return found[0];
  }

  double gauge(String name, String node) {
    return registry.get(name).tag("node", node).gauge().value();
  }

  double transportCounter(String name, String tag, String value, String node) {
    return registry.get("raft.transport." + name).tag("node", node).tag(tag, value)
        .functionCounter().count();
  }

  double counter(String name, String node) {
    return registry.get(name).tag("node", node).functionCounter().count();
  }

  @Test
  void statusLogTailStatsAndMetersDescribeTheCluster() {
    String leader = leader();
    RaftNode l = nodes.get(leader);
    long last = 0;
    for (int i = 0; i < 30; i++) {
      last = await(l.propose(Buffer.buffer("k" + i + "=value-" + i))).index();
    }
    long lastIndex = last;
    for (RaftNode n : nodes.values()) {
      eventually(n.id() + " applies everything", () -> await(n.status()).lastApplied() >= lastIndex);
    }

    NodeStatus s = await(l.status());
    assertEquals("obs", s.clusterId());
    assertEquals(0, s.snapshotIndex());
    assertEquals(2, s.nextIndex().size(), s.toString());
    for (Map.Entry<String, Long> e : s.nextIndex().entrySet()) {
      assertTrue(e.getValue() > s.matchIndex().get(e.getKey()), "next > match for " + e);
    }
    assertTrue(s.toJson().getJsonObject("nextIndex").containsKey(s.nextIndex().keySet()
        .iterator().next()));

    for (RaftNode n : nodes.values()) {
      List<LogEntryInfo> tail = await(n.logTail(5, 4));
      assertEquals(5, tail.size());
      assertEquals(lastIndex, tail.get(4).index());
      assertEquals("command", tail.get(4).type());
      assertEquals("k29=", tail.get(4).data().toString());
      assertEquals("k29=value-29".length(), tail.get(4).dataLength());
      assertFalse(tail.get(4).complete());
      for (int i = 1; i < 5; i++) {
        assertEquals(tail.get(i - 1).index() + 1, tail.get(i).index());
      }
      List<LogEntryInfo> whole = await(n.logTail(1_000, 100));
      assertEquals(lastIndex, whole.size(), "the log starts at index 1");
      assertEquals("config", whole.get(0).type());
      assertTrue(whole.get(whole.size() - 1).complete());
    }

    NodeStats stats = l.stats();
    eventually("gauges refreshed", () -> stats.commitIndex() >= lastIndex
        && stats.appliedIndex() >= lastIndex && stats.lastIndex() >= lastIndex);
    assertEquals("leader", stats.role());
    assertEquals(30, stats.proposalsCommitted());
    assertEquals(0, stats.proposalsFailed());
    assertTrue(stats.proposalLatencyNanos() > 0);
    assertTrue(stats.electionsWon() >= 1);
    long started = nodes.values().stream().mapToLong(n -> n.stats().electionsStarted()).sum();
    assertTrue(started >= 1, "someone ran for election");
    assertTrue(stats.appendEntriesSent() > 0);
    assertTrue(stats.storageWrites() > 0 && stats.storageWriteEntries() >= 30);
    assertEquals(lastIndex, stats.logEntries());
    assertTrue(stats.logBytes() > 30 * "k0=value-0".length());
    assertEquals(0, stats.snapshots());
    for (String peer : s.matchIndex().keySet()) {
      eventually("lag of " + peer + " sampled", () -> stats.replicationLag(peer) == 0);
    }

    assertTrue(gauge("raft.term", leader) >= 1);
    assertEquals(1.0, registry.get("raft.role").tag("node", leader).tag("role", "leader").gauge()
        .value());
    assertEquals(0.0, registry.get("raft.role").tag("node", leader).tag("role", "follower")
        .gauge().value());
    assertTrue(gauge("raft.commit.index", leader) >= lastIndex);
    assertTrue(gauge("raft.applied.index", leader) >= lastIndex);
    assertEquals(lastIndex, gauge("raft.log.entries", leader));
    assertTrue(gauge("raft.log.size", leader) > 0);
    assertEquals(30.0, registry.get("raft.proposals").tag("node", leader)
        .tag("outcome", "committed").functionCounter().count());
    Timer latency = registry.get("raft.proposal.latency").tag("node", leader).timer();
    assertEquals(30, latency.count());
    assertTrue(latency.mean(TimeUnit.NANOSECONDS) > 0);
    assertTrue(registry.get("raft.fsync.latency").tag("node", leader).timer().count() > 0);
    assertTrue(registry.get("raft.storage.batch").tag("node", leader).summary().count() > 0);
    assertTrue(registry.get("raft.append.batch").tag("node", leader).summary().count() > 0);
    assertTrue(counter("raft.append.entries.sent", leader) > 0);
    assertTrue(counter("raft.elections.won", leader) >= 1);
    assertEquals(0.0, counter("raft.snapshots", leader));
    assertEquals(0, registry.get("raft.snapshot.duration").tag("node", leader).timer().count());
    String follower = s.matchIndex().keySet().iterator().next();
    assertEquals(0.0, registry.get("raft.replication.lag").tag("node", leader)
        .tag("peer", follower).gauge().value());
    assertTrue(Double.isNaN(registry.get("raft.replication.lag").tag("node", follower)
        .tag("peer", leader).gauge().value()), "followers do not know the lag");

    assertTrue(transportCounter("messages", "direction", "sent", leader) > 0);
    assertTrue(transportCounter("messages", "direction", "received", follower) > 0);
    assertEquals(0.0, transportCounter("rejected", "reason", "malformed", follower));
    vertx.eventBus().send("raft.obs." + follower + ".rpc", "not a Raft message");
    eventually("the refused message counted", () ->
        transportCounter("rejected", "reason", "malformed", follower) == 1.0);
    assertEquals(0.0, transportCounter("rejected", "reason", "sender", follower));
    assertEquals(0.0, transportCounter("dropped", "reason", "queue_full", leader));

    await(nodes.remove(follower).close());
    assertNull(registry.find("raft.term").tag("node", follower).gauge(),
        "a stopped node's meters are removed");
    assertNotNull(registry.find("raft.term").tag("node", leader).gauge());
  }

  /** Snapshots show in the status (snapshot index), the stats and the meters. */
  @Test
  void snapshotsAreCountedTimedAndShownInTheStatus() {
    for (RaftNode n : List.copyOf(nodes.values())) {
      await(n.close());
    }
    nodes.clear();
    for (String id : List.of("n1", "n2", "n3")) {
      RaftNode node = await(RaftNode.deploy(vertx, options(id).setSnapshotThresholdEntries(20)
          .setSnapshotTrailingEntries(0), new MapStateMachine()));
      RaftMetrics.bind(node, registry);
      nodes.put(id, node);
    }
    String leader = leader();
    RaftNode l = nodes.get(leader);
    for (int i = 0; i < 50; i++) {
      await(l.propose(Buffer.buffer("k" + i + "=v")));
    }
    eventually("two snapshots on the leader", () -> l.stats().snapshots() >= 2);
    assertTrue(l.stats().snapshotNanos() > 0);
    NodeStatus s = await(l.status());
    assertTrue(s.snapshotIndex() >= 40, s.toString());
    assertTrue(s.toJson().getLong("snapshotIndex") >= 40);
    assertTrue(counter("raft.snapshots", leader) >= 2);
    assertTrue(registry.get("raft.snapshot.duration").tag("node", leader).timer().count() >= 2);
    List<LogEntryInfo> tail = await(l.logTail(1_000, 10));
    assertEquals(s.snapshotIndex() + 1, tail.get(0).index(), "the log starts after the snapshot");
    assertTrue(l.stats().logEntries() < 50, "compacted: " + l.stats().logEntries());
  }

  @Test
  void metricsEnabledWithoutVertxMetricsFailsToDeployClearly() {
    Future<RaftNode> f = RaftNode.deploy(vertx, options("n4").setPeers(Map.of("n4", "local"))
        .setMetricsEnabled(true).setMetricsRegistryName("absent"), new MapStateMachine());
    try {
      f.await(10, TimeUnit.SECONDS);
      throw new AssertionError("deployed without a registry");
    } catch (Exception e) {
      assertTrue(String.valueOf(f.cause()).contains("no Micrometer registry named 'absent'"),
          String.valueOf(f.cause()));
    }
    RaftOptions o = new RaftOptions(new RaftOptions().setMetricsEnabled(true)
        .setMetricsRegistryName("r").toJson());
    assertTrue(o.isMetricsEnabled());
    assertEquals("r", o.getMetricsRegistryName());
  }
}
