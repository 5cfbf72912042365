package dev.raftvertx.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.raftvertx.Committed;
import dev.raftvertx.NodeStatus;
import dev.raftvertx.RaftException;
import dev.raftvertx.RaftNode;
import dev.raftvertx.RaftOptions;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.junit5.VertxExtension;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * The node's integration suite, run once per transport (the Ratis pattern): three real nodes with
 * file storage in one Vert.x instance. Waits use generous bounds; nothing here measures speed.
 */
@ExtendWith(VertxExtension.class)
abstract class ClusterTestBase {

  static final long WAIT_SECONDS = 30;

  @TempDir
  Path dir;
  Vertx vertx;
  final Map<String, RaftNode> nodes = new LinkedHashMap<>();
  final Map<String, RaftOptions> options = new LinkedHashMap<>();
  final Map<String, MapStateMachine> machines = new LinkedHashMap<>();

  /** @return node id to address, for the transport under test */
  abstract Map<String, String> addresses(List<String> ids);

  abstract RaftOptions.TransportKind transport();

  /**
   * @param id a node id
   * @param options that node's options
   * @return them with whatever the suite adds per node (TLS, say); as they are by default
   */
  RaftOptions configure(String id, RaftOptions options) {
    return options;
  }

  @BeforeEach
  void startCluster(Vertx vertx) {
    this.vertx = vertx;
    List<String> ids = List.of("n1", "n2", "n3");
    Map<String, String> peers = addresses(ids);
    for (String id : ids) {
      options.put(id, configure(id, new RaftOptions().setNodeId(id).setClusterId("itest")
          .setPeers(peers).setDataDir(dir.resolve(id).toString()).setTransport(transport())
          .setRequestTimeoutMillis(3_000)));
    }
    for (String id : ids) {
      start(id);
    }
  }

  @AfterEach
  void stopCluster() {
    for (RaftNode n : nodes.values()) {
      await(n.close());
    }
  }

  void start(String id) {
    MapStateMachine sm = new MapStateMachine();
    machines.put(id, sm);
    nodes.put(id, await(RaftNode.deploy(vertx, options.get(id), sm)));
  }

  void stop(String id) {
    await(nodes.remove(id).close());
  }

  static <T> T await(Future<T> f) {
    try {
      return f.await(WAIT_SECONDS, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new AssertionError("timed out or failed: " + (f.cause() != null ? f.cause() : e), e);
    }
  }

  NodeStatus status(String id) {
    return await(nodes.get(id).status());
  }

  /** Waits until exactly one running node leads and every running node follows it. */
  String awaitLeader() {
    long deadline = System.currentTimeMillis() + WAIT_SECONDS * 1000;
    while (System.currentTimeMillis() < deadline) {
      List<String> leaders = new ArrayList<>();
      boolean agreed = true;
      String leader = null;
      for (String id : nodes.keySet()) {
        NodeStatus s = status(id);
        if (s.isLeader()) {
          leaders.add(id);
        }
        if (leader == null) {
          leader = s.leaderId();
        } else if (!leader.equals(s.leaderId())) {
          agreed = false;
        }
      }
      if (leaders.size() == 1 && agreed && leaders.get(0).equals(leader)) {
        return leader;
      }
      pause(50);
    }
    throw new AssertionError("no single leader within " + WAIT_SECONDS + " s");
  }

  void pause(long millis) {
    await(Future.future(p -> vertx.setTimer(millis, t -> p.complete())));
  }

  String follower(String leader) {
    return nodes.keySet().stream().filter(id -> !id.equals(leader)).findFirst().orElseThrow();
  }

  /**
   * Proposes key=value on node id; if it fails on an election (on a loaded machine), retries on
   * the current leader like a client would: also when the outcome is unknown, since every put of
   * these tests is an idempotent overwrite issued one at a time.
   */
  Committed put(String id, String key, String value) {
    String target = id;
    for (int attempt = 0; ; attempt++) {
      Future<Committed> f = nodes.get(target).propose(Buffer.buffer(key + "=" + value));
      try {
        return f.await(WAIT_SECONDS, TimeUnit.SECONDS);
      } catch (Exception e) {
        if (attempt < 20 && f.cause() instanceof RaftException re && (re.error().knownNotApplied()
            || re.error() == dev.raftvertx.core.RaftError.INDETERMINATE
            || re.error() == dev.raftvertx.core.RaftError.TIMEOUT)) {
          pause(100);
          target = awaitLeader();
          continue;
        }
        throw new AssertionError("put failed: " + (f.cause() != null ? f.cause() : e), e);
      }
    }
  }

  /**
   * A linearizable read, retried like a client would while the node knows no leader (NOT_LEADER
   * is known not to have been served, so a retry is always safe).
   */
  String read(String id, String key) {
    for (int attempt = 0; ; attempt++) {
      Future<Buffer> f = nodes.get(id).read(Buffer.buffer(key));
      try {
        return f.await(WAIT_SECONDS, TimeUnit.SECONDS).toString();
      } catch (Exception e) {
        if (attempt < 20 && f.cause() instanceof RaftException re
            && re.error() == dev.raftvertx.core.RaftError.NOT_LEADER) {
          pause(100);
          continue;
        }
        throw new AssertionError("read failed: " + (f.cause() != null ? f.cause() : e), e);
      }
    }
  }

  /** Waits until a node has applied up to index. */
  void awaitApplied(String id, long index) {
    long deadline = System.currentTimeMillis() + WAIT_SECONDS * 1000;
    while (status(id).lastApplied() < index) {
      if (System.currentTimeMillis() > deadline) {
        fail(id + " did not apply up to " + index + ": " + status(id));
      }
      pause(20);
    }
  }

  @Test
  void electsOneLeaderAndReplicatesProposalsMadeAnywhere() {
    String leader = awaitLeader();
    long last = 0;
    for (int i = 0; i < 20; i++) {
      String via = i % 2 == 0 ? leader : follower(leader);
      last = put(via, "k" + i, "v" + i).index();
    }
    for (String id : nodes.keySet()) {
      assertEquals("v19", read(id, "k19"), "linearizable read on " + id);
      awaitApplied(id, last);
      assertEquals("v7", await(nodes.get(id).readLocal(Buffer.buffer("k7"))).toString());
    }
    assertEquals(Map.of(), diff(machines.get("n1").data, machines.get("n2").data));
  }

  @Test
  void newLeaderIsElectedWhenTheLeaderStopsAndNoAcknowledgedWriteIsLost() {
    String leader = awaitLeader();
    long term = status(leader).term();
    for (int i = 0; i < 10; i++) {
      put(leader, "a" + i, "x" + i);
    }
    stop(leader);
    String next = awaitLeader();
    assertNotEquals(leader, next);
    assertTrue(status(next).term() > term);
    put(next, "after", "yes");
    for (int i = 0; i < 10; i++) {
      assertEquals("x" + i, read(next, "a" + i));
    }
    start(leader);
    awaitLeader();
    assertEquals("yes", read(leader, "after"));
  }

  @Test
  void restartedNodeRecoversItsLogAndCatchesUp() {
    String leader = awaitLeader();
    String f = follower(leader);
    put(leader, "before", "1");
    stop(f);
    long last = 0;
    for (int i = 0; i < 50; i++) {
      last = put(leader, "while-down-" + i, "v").index();
    }
    start(f);
    awaitApplied(f, last);
    assertEquals("1", machines.get(f).data.get("before"));
    assertEquals("v", machines.get(f).data.get("while-down-49"));
  }

  @Test
  void partitionedMinorityCannotCommit() {
    String leader = awaitLeader();
    put(leader, "k", "before");
    // cut the leader off from both followers, in both directions
    for (RaftNode n : nodes.values()) {
      n.faults().partition(leader);
    }
    Future<Committed> lost = nodes.get(leader).propose(Buffer.buffer("k=minority"));
    try {
      lost.await(WAIT_SECONDS, TimeUnit.SECONDS);
      fail("a leader cut off from the majority committed a write");
    } catch (Exception e) {
      assertTrue(lost.cause() instanceof RaftException, "fails with a RaftException: " + lost.cause());
    }
    List<String> majority = nodes.keySet().stream().filter(id -> !id.equals(leader)).toList();
    String newLeader = null;
    long deadline = System.currentTimeMillis() + WAIT_SECONDS * 1000;
    while (newLeader == null && System.currentTimeMillis() < deadline) {
      for (String id : majority) {
        if (status(id).isLeader()) {
          newLeader = id;
        }
      }
      pause(50);
    }
    assertTrue(newLeader != null, "the majority elects a leader");
    assertEquals("before", read(newLeader, "k"));
    put(newLeader, "k", "majority");
    for (RaftNode n : nodes.values()) {
      n.faults().clearFaults();
    }
    awaitLeader();
    assertEquals("majority", read(leader, "k"));
  }

  @Test
  void growByAJoiningNodeTransferLeadershipToItAndRemoveTheOldLeader() {
    String leader = awaitLeader();
    put(leader, "a", "1");
    Map<String, String> extra = addresses(List.of("n4"));
    Map<String, String> peers = new LinkedHashMap<>(options.get("n1").getPeers());
    peers.putAll(extra);
    options.put("n4", configure("n4", new RaftOptions(options.get("n1")).setNodeId("n4")
        .setPeers(peers).setDataDir(dir.resolve("n4").toString()).setJoin(true)));
    start("n4");
    await(nodes.get(leader).addVoter("n4", extra.get("n4")));
    assertEquals(4, status(leader).voters().size());
    long index = put(leader, "b", "2").index();
    awaitApplied("n4", index);
    assertEquals("1", machines.get("n4").data.get("a"), "the new node received the whole log");

    await(nodes.get(leader).transferLeadership("n4"));
    assertEquals("n4", awaitLeader());
    // a new leader refuses changes until it committed an entry of its term: retry as a client does
    Future<Void> removal = nodes.get("n4").removeMember(leader);
    for (int attempt = 0; attempt < 50
        && failsWith(removal, dev.raftvertx.core.RaftError.CHANGE_IN_PROGRESS); attempt++) {
      pause(50);
      removal = nodes.get("n4").removeMember(leader);
    }
    await(removal);
    assertFalse(status("n4").voters().contains(leader));
    stop(leader);
    assertEquals("n4", awaitLeader());
    put("n4", "c", "3");
    for (String id : nodes.keySet()) {
      assertEquals("3", read(id, "c"));
    }
  }

  /** Restarts every node with options changed (same data directories). */
  void restartAllWith(java.util.function.UnaryOperator<RaftOptions> change) {
    for (String id : List.copyOf(nodes.keySet())) {
      stop(id);
    }
    for (String id : List.copyOf(options.keySet())) {
      options.put(id, change.apply(options.get(id)));
      start(id);
    }
  }

  static RaftOptions smallSnapshots(RaftOptions o) {
    return o.setSnapshotThresholdEntries(40).setSnapshotTrailingEntries(5)
        .setSnapshotChunkBytes(1024).setMaxSegmentBytes(4096);
  }

  private static long segments(Path dataDir) {
    try (var files = java.nio.file.Files.list(dataDir)) {
      return files.filter(f -> f.getFileName().toString().endsWith(".seg")).count();
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  private static String value(int i) {
    return ("v" + i + "-").repeat(20);
  }

  /**
   * §7: every node snapshots on its own and deletes the covered log segments; a follower that
   * was down while the leader compacted its log catches up through a snapshot sent in many
   * chunks; after a restart of everyone, each node restores snapshot + log.
   */
  @Test
  void laggingFollowerCatchesUpThroughAChunkedSnapshotAndRestartsRestoreIt() {
    restartAllWith(ClusterTestBase::smallSnapshots);
    String leader = awaitLeader();
    String lagging = follower(leader);
    stop(lagging);
    long last = 0;
    for (int i = 0; i < 300; i++) {
      last = put(leader, "k" + (i % 50), value(i)).index();
    }
    NodeStatus ls = status(leader);
    assertTrue(ls.snapshotIndex() > 200, "the leader compacted its log: " + ls);
    long segmentsLeft = segments(dir.resolve(leader));
    assertTrue(segmentsLeft <= 6, "log segments covered by the snapshot are deleted: "
        + segmentsLeft + " left");
    start(lagging);
    awaitApplied(lagging, last);
    assertEquals(1, machines.get(lagging).restores, "the follower restored one snapshot");
    assertEquals(machines.get(leader).data, machines.get(lagging).data);
    assertTrue(status(lagging).snapshotIndex() > 200);

    restartAllWith(o -> o);
    String again = awaitLeader();
    long after = put(again, "after", "restart").index();
    for (String id : nodes.keySet()) {
      awaitApplied(id, after);
      assertEquals(1, machines.get(id).restores, id + " restored its snapshot at start");
      assertEquals(value(299), machines.get(id).data.get("k49"));
      assertEquals("restart", machines.get(id).data.get("after"));
    }
  }

  /** §7: a node added after the leader compacted its log receives a snapshot as a learner. */
  @Test
  void newNodeCatchesUpFromASnapshotFarBehindTheLeadersLogStart() {
    restartAllWith(ClusterTestBase::smallSnapshots);
    String leader = awaitLeader();
    for (int i = 0; i < 200; i++) {
      put(leader, "k" + i, value(i));
    }
    assertTrue(status(leader).snapshotIndex() > 100);
    Map<String, String> extra = addresses(List.of("n4"));
    Map<String, String> peers = new LinkedHashMap<>(options.get("n1").getPeers());
    peers.putAll(extra);
    options.put("n4", configure("n4", smallSnapshots(new RaftOptions(options.get("n1"))
        .setNodeId("n4").setPeers(peers).setDataDir(dir.resolve("n4").toString())
        .setJoin(true))));
    start("n4");
    await(nodes.get(leader).addVoter("n4", extra.get("n4")));
    long index = put(leader, "late", "x").index();
    awaitApplied("n4", index);
    assertEquals(1, machines.get("n4").restores);
    assertEquals(machines.get(leader).data, machines.get("n4").data);
    assertTrue(status("n4").voters().contains("n4"));
  }

  /**
   * A node whose data was wiped cannot come back under its old id with join: it would vote with a
   * forgotten log. It halts with a message saying to rejoin under a new id.
   */
  @Test
  void wipedNodeRejoiningUnderItsOldIdIsRefused() throws Exception {
    String leader = awaitLeader();
    put(leader, "a", "1");
    String wiped = follower(leader);
    stop(wiped);
    try (var files = java.nio.file.Files.walk(dir.resolve(wiped))) {
      files.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
    }
    options.put(wiped, new RaftOptions(options.get(wiped)).setJoin(true));
    start(wiped);
    long deadline = System.currentTimeMillis() + WAIT_SECONDS * 1000;
    while (status(wiped).error() == null && System.currentTimeMillis() < deadline) {
      pause(20);
    }
    NodeStatus s = status(wiped);
    assertTrue(s.error() != null && s.error().contains("rejoin under a new id"), s.toString());
    assertEquals(0, s.lastApplied(), "it applied nothing");
    assertNotEquals(wiped, s.votedFor());
    put(leader, "b", "2"); // the others carry on
  }

  @Test
  void membershipChangesAreRefusedClearly() throws Exception {
    String leader = awaitLeader();
    // A new leader refuses every change (CHANGE_IN_PROGRESS) until an entry of its term commits.
    put(leader, "settled", "1");
    String f = follower(leader);
    Future<Void> notLeader = nodes.get(f).addLearner("x", "127.0.0.1:1");
    assertTrue(failsWith(notLeader, dev.raftvertx.core.RaftError.NOT_LEADER));
    Future<Void> existing = nodes.get(leader).addLearner(f, "127.0.0.1:1");
    assertTrue(failsWith(existing, dev.raftvertx.core.RaftError.INVALID_CHANGE));
    Future<Void> unknown = nodes.get(leader).transferLeadership("nobody");
    assertTrue(failsWith(unknown, dev.raftvertx.core.RaftError.INVALID_CHANGE));
  }

  private static boolean failsWith(Future<?> f, dev.raftvertx.core.RaftError error) {
    try {
      f.await(WAIT_SECONDS, TimeUnit.SECONDS);
      return false;
    } catch (Exception e) {
      return f.cause() instanceof RaftException re && re.error() == error;
    }
  }

  private static Map<String, String> diff(Map<String, String> a, Map<String, String> b) {
    Map<String, String> d = new LinkedHashMap<>();
    for (String k : a.keySet()) {
      if (!a.get(k).equals(b.get(k))) {
        d.put(k, a.get(k) + " vs " + b.get(k));
      }
    }
    return d;
  }
}
