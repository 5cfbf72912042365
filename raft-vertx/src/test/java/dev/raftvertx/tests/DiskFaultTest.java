package dev.raftvertx.tests;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.raftvertx.Committed;
import dev.raftvertx.LogEntryInfo;
import dev.raftvertx.NodeStatus;
import dev.raftvertx.RaftException;
import dev.raftvertx.RaftNode;
import dev.raftvertx.RaftOptions;
import dev.raftvertx.core.Message;
import dev.raftvertx.core.RaftError;
import dev.raftvertx.impl.RaftNodeImpl;
import dev.raftvertx.impl.storage.FaultyStorageFileSystem;
import dev.raftvertx.impl.storage.FileRaftStorage;
import dev.raftvertx.impl.storage.VertxStorageFileSystem;
import dev.raftvertx.spi.CorruptLogException;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.DeliveryContext;
import io.vertx.junit5.VertxExtension;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Disk faults in a running cluster (issue 7, "Disks"): three nodes on the event bus in one Vert.x
 * instance, each on a {@link FileRaftStorage} over a {@link FaultyStorageFileSystem} that fails an
 * fsync, or every write as a full disk does, when told to.
 *
 * <p>A node whose disk fails halts: it reports why in its status, acknowledges nothing it could
 * not make durable, refuses new work with an error naming the failure, sends no message (no
 * heartbeat, no vote, no answer), never touches its disk again (an fsync is never retried), and
 * its term stays put; the two others carry on (electing a new leader if it led). A node whose log
 * holds a corrupt record refuses to start, with a message saying how to recover, and the recovery
 * it describes works. Every acknowledged write is checked in the survivors' state machines. No
 * event loop may be blocked meanwhile. Waits use generous bounds; nothing measures speed.
 */
@ExtendWith(VertxExtension.class)
class DiskFaultTest {

  static final long WAIT_SECONDS = 30;
  static final List<String> IDS = List.of("n1", "n2", "n3");

  @TempDir
  Path dir;
  Vertx vertx;
  final Map<String, RaftNode> nodes = new LinkedHashMap<>();
  final Map<String, RaftOptions> options = new LinkedHashMap<>();
  final Map<String, MapStateMachine> machines = new LinkedHashMap<>();
  final Map<String, FaultyStorageFileSystem> disks = new LinkedHashMap<>();

  /** Raft messages put on the event bus, by sender and by addressee. */
  final Map<String, AtomicLong> sentBy = new ConcurrentHashMap<>();
  final Map<String, AtomicLong> sentTo = new ConcurrentHashMap<>();
  final Map<String, AtomicLong> voteRequestsTo = new ConcurrentHashMap<>();

  /**
   * Messages each node had sent when it logged its halt (taken on the node's thread, inside the
   * halt): nothing may follow, not even the rest of the event-loop turn in which it halted.
   */
  final Map<String, Long> sentWhenHalted = new ConcurrentHashMap<>();
  private final Logger nodeLogger = Logger.getLogger(RaftNodeImpl.class.getName());
  private final Handler haltHandler = new Handler() {
    @Override
    public void publish(LogRecord record) {
      String m = record.getMessage();
      for (String id : IDS) {
        if (m != null && m.startsWith("node " + id + " halted: ")) {
          sentWhenHalted.putIfAbsent(id, sent(sentBy, id));
        }
      }
    }

    @Override
    public void flush() {
    }

    @Override
    public void close() {
    }
  };

  private final Logger blockedThreadLogger =
      Logger.getLogger("io.vertx.core.impl.BlockedThreadChecker");
  private final List<String> blockedThreadWarnings = Collections.synchronizedList(
      new ArrayList<>());
  private final Handler blockedThreadHandler = new Handler() {
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

  /** A way for a disk to fail. */
  enum DiskFault {
    /** The next fsync fails with an I/O error. */
    FSYNC_FAILS("fsync failed", "Input/output error (simulated fsync failure)"),
    /** Every file write fails with "No space left on device". */
    DISK_FULL("failed: No space left on device", "No space left on device");

    /** Text the halt reason must hold: what failed, and the operating system's error. */
    final String what;
    final String osError;

    DiskFault(String what, String osError) {
      this.what = what;
      this.osError = osError;
    }
  }

  @BeforeEach
  void startCluster(Vertx vertx) {
    this.vertx = vertx;
    blockedThreadLogger.addHandler(blockedThreadHandler);
    nodeLogger.addHandler(haltHandler);
    vertx.eventBus().addOutboundInterceptor((DeliveryContext<Object> dc) -> {
      if (dc.body() instanceof Message m) {
        sentBy.computeIfAbsent(m.from(), k -> new AtomicLong()).incrementAndGet();
        sentTo.computeIfAbsent(m.to(), k -> new AtomicLong()).incrementAndGet();
        if (m instanceof Message.VoteRequest) {
          voteRequestsTo.computeIfAbsent(m.to(), k -> new AtomicLong()).incrementAndGet();
        }
      }
      dc.next();
    });
    Map<String, String> peers = new LinkedHashMap<>();
    IDS.forEach(id -> peers.put(id, "local"));
    for (String id : IDS) {
      // Generous timeouts: a loaded machine must not cause elections the tests do not expect.
      options.put(id, new RaftOptions().setNodeId(id).setClusterId("disks").setPeers(peers)
          .setDataDir(dir.resolve(id).toString()).setElectionTimeoutMillis(1_000)
          .setHeartbeatIntervalMillis(100).setRequestTimeoutMillis(10_000));
    }
    for (String id : IDS) {
      nodes.put(id, await(deploy(id)));
    }
  }

  @AfterEach
  void stopCluster() {
    try {
      for (RaftNode n : nodes.values()) {
        await(n.close());
      }
    } finally {
      blockedThreadLogger.removeHandler(blockedThreadHandler);
      nodeLogger.removeHandler(haltHandler);
    }
    assertEquals(List.of(), blockedThreadWarnings, "an event loop was blocked");
  }

  /** Deploys a node on file storage over a fresh fault-injecting file system. */
  Future<RaftNode> deploy(String id) {
    RaftOptions o = options.get(id);
    FaultyStorageFileSystem disk = new FaultyStorageFileSystem(new VertxStorageFileSystem(vertx));
    disks.put(id, disk);
    MapStateMachine sm = new MapStateMachine();
    machines.put(id, sm);
    FileRaftStorage storage = new FileRaftStorage(vertx, Path.of(o.getDataDir()),
        o.getMaxSegmentBytes(), disk);
    return RaftNode.deploy(vertx, o, sm, storage, null);
  }

  // =====================================================================================
  // Fsync failure or full disk on the leader
  // =====================================================================================

  /**
   * The followers' disks are slow (their fsyncs are held) when the leader's fsync fails, so none
   * of the proposals in flight can commit before the leader halts: they must all fail, none as a
   * success.
   */
  @Test
  void fsyncFailureOnTheLeaderHaltsItAndTheOthersElectANewLeader() {
    leaderDiskFails(DiskFault.FSYNC_FAILS, true);
  }

  /**
   * Writes on the leader fail as on a full disk while proposals stream in; the followers may
   * commit some of them before the leader halts, and every one reported successful must survive.
   */
  @Test
  void fullDiskOnTheLeaderHaltsItAndTheOthersElectANewLeader() {
    leaderDiskFails(DiskFault.DISK_FULL, false);
  }

  private void leaderDiskFails(DiskFault fault, boolean slowFollowers) {
    String leader = awaitLeader(IDS);
    List<String> survivors = IDS.stream().filter(id -> !id.equals(leader)).toList();
    List<String> acknowledged = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      put(leader, "before-" + i);
      acknowledged.add("before-" + i);
    }
    long term = status(leader).term();

    if (slowFollowers) {
      for (String f : survivors) {
        disks.get(f).holdFsyncs();
      }
    }
    inject(leader, fault);
    List<Future<Committed>> inFlight = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      inFlight.add(nodes.get(leader).propose(Buffer.buffer("inflight-" + i + "=v")));
    }
    NodeStatus halted = awaitHalted(leader);
    long sentByHalted = sent(sentBy, leader);
    long voteRequestsAtHalt = sent(voteRequestsTo, leader);
    List<String> diskEvents = disks.get(leader).events();
    if (slowFollowers) {
      for (String f : survivors) {
        onNodeContext(f, () -> disks.get(f).releaseFsyncs());
      }
    }
    if (fault == DiskFault.DISK_FULL) {
      disks.get(leader).diskFull(false); // space is freed: the node must not carry on anyway
    }

    assertHaltReason(halted, fault);
    assertEquals(term, halted.term());
    int failed = 0;
    for (int i = 0; i < inFlight.size(); i++) {
      Future<Committed> f = inFlight.get(i);
      awaitCompletion(f);
      if (f.succeeded()) {
        acknowledged.add("inflight-" + i);
      } else {
        failed++;
        RaftException e = assertInstanceOf(RaftException.class, f.cause());
        assertTrue(e.error() == RaftError.INDETERMINATE || e.error() == RaftError.STOPPED,
            "a proposal in flight fails as indeterminate or refused: " + e);
      }
    }
    if (slowFollowers) {
      assertEquals(inFlight.size(), failed,
          "nothing is acknowledged that no majority made durable");
    }
    assertTrue(failed > 0, "the proposal whose write failed is not acknowledged");
    assertRefusesWork(leader, fault);

    String next = awaitLeader(survivors);
    assertTrue(status(next).term() > term, "the new leader's term is above the halted one's");
    assertTrue(sent(voteRequestsTo, leader) > voteRequestsAtHalt,
        "the candidates asked the halted node for its vote (it must not answer)");
    long last = 0;
    for (int i = 0; i < 10; i++) {
      last = put(next, "after-" + i).index();
      acknowledged.add("after-" + i);
    }
    assertSurvivorsHold(survivors, last, acknowledged);
    assertSilent(leader, halted, sentByHalted, diskEvents);
  }

  // =====================================================================================
  // Fsync failure or full disk on a follower
  // =====================================================================================

  @Test
  void fsyncFailureOnAFollowerHaltsItAndTheLeaderCommitsWithTheOther() {
    followerDiskFails(DiskFault.FSYNC_FAILS);
  }

  @Test
  void fullDiskOnAFollowerHaltsItAndTheLeaderCommitsWithTheOther() {
    followerDiskFails(DiskFault.DISK_FULL);
  }

  private void followerDiskFails(DiskFault fault) {
    String leader = awaitLeader(IDS);
    List<String> followers = IDS.stream().filter(id -> !id.equals(leader)).toList();
    String victim = followers.get(0);
    List<String> survivors = IDS.stream().filter(id -> !id.equals(victim)).toList();
    List<String> acknowledged = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      put(leader, "before-" + i);
      acknowledged.add("before-" + i);
    }
    long term = status(leader).term();

    inject(victim, fault);
    for (int i = 0; i < 10; i++) {
      put(leader, "during-" + i); // commits with the leader and the other follower
      acknowledged.add("during-" + i);
    }
    NodeStatus halted = awaitHalted(victim);
    long sentByHalted = sent(sentBy, victim);
    List<String> diskEvents = disks.get(victim).events();
    if (fault == DiskFault.DISK_FULL) {
      disks.get(victim).diskFull(false);
    }
    assertHaltReason(halted, fault);
    assertEquals(term, halted.term());
    assertRefusesWork(victim, fault);

    long last = 0;
    for (int i = 0; i < 20; i++) {
      last = put(leader, "after-" + i).index();
      acknowledged.add("after-" + i);
    }
    assertEquals(leader, awaitLeader(survivors), "the leader kept its place");
    assertEquals(term, status(leader).term());
    assertSurvivorsHold(survivors, last, acknowledged);
    assertSilent(victim, halted, sentByHalted, diskEvents);
  }

  // =====================================================================================
  // A corrupt record in a follower's log
  // =====================================================================================

  @Test
  void corruptRecordInAFollowersLogIsDetectedAtStartAndTheNodeRefusesToServe() throws Exception {
    String leader = awaitLeader(IDS);
    String victim = IDS.stream().filter(id -> !id.equals(leader)).findFirst().orElseThrow();
    List<String> survivors = IDS.stream().filter(id -> !id.equals(victim)).toList();
    List<String> acknowledged = new ArrayList<>();
    long last = 0;
    for (int i = 0; i < 40; i++) {
      last = put(leader, "k" + i).index();
      acknowledged.add("k" + i);
    }
    awaitApplied(victim, last);
    long damagedIndex = await(nodes.get(leader).logTail(1_000, 100)).stream()
        .filter(e -> e.data().toString().equals("k20=v")).mapToLong(LogEntryInfo::index)
        .findFirst().orElseThrow();
    await(nodes.remove(victim).close());

    // Flip one bit inside the data of a record in the middle of the segment: valid records
    // follow, so this cannot be a write torn by a crash.
    Path dataDir = dir.resolve(victim);
    Path segment;
    try (Stream<Path> files = Files.list(dataDir)) {
      List<Path> segments = files.filter(p -> p.getFileName().toString().endsWith(".seg"))
          .toList();
      assertEquals(1, segments.size(), "segments: " + segments);
      segment = segments.get(0);
    }
    byte[] bytes = Files.readAllBytes(segment);
    int at = indexOf(bytes, "k20=v".getBytes(StandardCharsets.US_ASCII));
    assertTrue(at > 0 && indexOf(bytes, "k39=v".getBytes(StandardCharsets.US_ASCII)) > at);
    bytes[at + 1] ^= 0x01;
    Files.write(segment, bytes);
    long sentByVictim = sent(sentBy, victim);

    Future<RaftNode> restart = deploy(victim);
    Throwable e = failure(restart);
    CorruptLogException corrupt = assertInstanceOf(CorruptLogException.class, e);
    String m = corrupt.getMessage();
    assertTrue(m.contains("the log is corrupt"), m);
    assertTrue(m.contains(segment.getFileName().toString()), m);
    assertTrue(m.contains("index " + damagedIndex), m);
    assertTrue(m.contains("checksum"), m);
    assertTrue(m.contains("this node must not serve"), m);
    assertTrue(m.contains("wipe " + dataDir.toAbsolutePath()), m);
    assertTrue(m.contains("new member under a new node id"), m);
    assertArrayEquals(bytes, Files.readAllBytes(segment), "the corrupt log is left as found");
    assertEquals(0, machines.get(victim).applied, "nothing was applied from the corrupt log");
    assertEquals(sentByVictim, sent(sentBy, victim), "the node sent nothing: no vote");
    // Trying again reports the same corruption (the failed start released the data directory).
    assertInstanceOf(CorruptLogException.class, failure(deploy(victim)));

    // The two others keep working.
    String next = awaitLeader(survivors);
    for (int i = 0; i < 10; i++) {
      last = put(next, "after-" + i).index();
      acknowledged.add("after-" + i);
    }
    assertSurvivorsHold(survivors, last, acknowledged);

    // The recovery the message describes: remove the member, wipe its data directory, add it
    // back under a new node id.
    awaitChange(() -> nodes.get(next).removeMember(victim));
    assertFalse(status(next).voters().contains(victim));
    try (Stream<Path> walk = Files.walk(dataDir)) {
      for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
        Files.delete(p);
      }
    }
    Map<String, String> peers = new LinkedHashMap<>(options.get(next).getPeers());
    peers.put("n4", "local");
    options.put("n4", new RaftOptions(options.get(next)).setNodeId("n4").setPeers(peers)
        .setDataDir(dataDir.toString()).setJoin(true));
    nodes.put("n4", await(deploy("n4")));
    await(nodes.get(next).addVoter("n4", "local"));
    last = put(next, "rejoined", "yes").index();
    acknowledged.add("rejoined");
    awaitApplied("n4", last);
    Map<String, String> state = stateOf("n4");
    for (String key : acknowledged) {
      assertNotNull(state.get(key), "the new member holds " + key);
    }
  }

  // =====================================================================================
  // Checks
  // =====================================================================================

  private void inject(String id, DiskFault fault) {
    switch (fault) {
      case FSYNC_FAILS -> disks.get(id).failNextFsync();
      case DISK_FULL -> disks.get(id).diskFull(true);
    }
  }

  private static void assertHaltReason(NodeStatus halted, DiskFault fault) {
    String reason = halted.error();
    assertTrue(reason.contains("storage write failed; nothing more is acknowledged"), reason);
    assertTrue(reason.contains(fault.what), reason);
    assertTrue(reason.contains(fault.osError), reason);
  }

  /** New proposals, reads and membership changes are refused, naming the halt's reason. */
  private void assertRefusesWork(String id, DiskFault fault) {
    RaftNode n = nodes.get(id);
    for (Future<?> f : List.of(n.propose(Buffer.buffer("refused=yes")), n.read(Buffer.buffer("k")),
        n.readLocal(Buffer.buffer("k")), n.addLearner("n9", "local"))) {
      RaftException e = assertInstanceOf(RaftException.class, failure(f));
      assertEquals(RaftError.STOPPED, e.error(), e.toString());
      assertTrue(e.knownNotApplied());
      assertTrue(e.getMessage().contains("halted"), e.getMessage());
      assertTrue(e.getMessage().contains(fault.osError), e.getMessage());
    }
  }

  /**
   * The halted node took no further part: it sent no message although the others kept sending
   * it some (vote requests among them if an election was held), it did not touch its disk again
   * (no fsync retried), and its term, log, commit and applied indexes stayed put.
   */
  private void assertSilent(String id, NodeStatus halted, long sentAtHalt,
      List<String> diskEventsAtHalt) {
    long toBefore = sent(sentTo, id);
    eventually(id + " still receives messages", () -> sent(sentTo, id) > toBefore + 20);
    pause(1_000); // ten heartbeat intervals, in which a running node would have answered
    assertEquals(sentAtHalt, sent(sentBy, id), "the halted node sent a message");
    assertEquals(sentWhenHalted.get(id), sent(sentBy, id),
        "the node sent messages after it halted, in the event-loop turn of the halt");
    assertEquals(diskEventsAtHalt, disks.get(id).events(), "the halted node used its disk");
    NodeStatus now = status(id);
    assertEquals(halted.term(), now.term(), "term");
    assertEquals(halted.votedFor(), now.votedFor(), "vote");
    assertEquals(halted.lastIndex(), now.lastIndex(), "last index");
    assertEquals(halted.commitIndex(), now.commitIndex(), "commit index");
    assertEquals(halted.lastApplied(), now.lastApplied(), "applied index");
    assertEquals(halted.error(), now.error());
  }

  /** Both survivors applied everything up to last and hold every acknowledged write. */
  private void assertSurvivorsHold(List<String> survivors, long last, List<String> acknowledged) {
    Map<String, String> first = null;
    for (String id : survivors) {
      awaitApplied(id, last);
      Map<String, String> state = stateOf(id);
      for (String key : acknowledged) {
        assertNotNull(state.get(key), id + " lost the acknowledged write " + key);
      }
      if (first == null) {
        first = state;
      } else {
        assertEquals(first, state, "the survivors' state machines differ");
      }
    }
  }

  // =====================================================================================
  // Helpers
  // =====================================================================================

  static <T> T await(Future<T> f) {
    try {
      return f.await(WAIT_SECONDS, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new AssertionError("timed out or failed: " + (f.cause() != null ? f.cause() : e), e);
    }
  }

  static void awaitCompletion(Future<?> f) {
    try {
      f.await(WAIT_SECONDS, TimeUnit.SECONDS);
    } catch (Exception e) {
      if (!f.isComplete()) {
        throw new AssertionError("not completed within " + WAIT_SECONDS + " s", e);
      }
    }
  }

  static Throwable failure(Future<?> f) {
    awaitCompletion(f);
    if (f.succeeded()) {
      fail("expected a failure, got " + f.result());
    }
    return f.cause();
  }

  NodeStatus status(String id) {
    return await(nodes.get(id).status());
  }

  NodeStatus awaitHalted(String id) {
    NodeStatus[] s = new NodeStatus[1];
    eventually(id + " halts", () -> (s[0] = status(id)).error() != null);
    return s[0];
  }

  /** Waits until exactly one of ids leads and every one of them follows it. */
  String awaitLeader(List<String> ids) {
    String[] found = new String[1];
    eventually("a single leader among " + ids, () -> {
      List<String> leaders = new ArrayList<>();
      java.util.Set<String> followed = new java.util.HashSet<>();
      for (String id : ids) {
        NodeStatus s = status(id);
        if (s.isLeader()) {
          leaders.add(id);
        }
        followed.add(String.valueOf(s.leaderId()));
      }
      if (leaders.size() == 1 && followed.equals(java.util.Set.of(leaders.get(0)))) {
        found[0] = leaders.get(0);
        return true;
      }
      return false;
    });
    return found[0];
  }

  Committed put(String id, String key) {
    return put(id, key, "v");
  }

  Committed put(String id, String key, String value) {
    return await(nodes.get(id).propose(Buffer.buffer(key + "=" + value)));
  }

  void awaitApplied(String id, long index) {
    eventually(id + " applies up to " + index, () -> status(id).lastApplied() >= index);
  }

  /** A copy of a node's state machine, taken on the node's context. */
  Map<String, String> stateOf(String id) {
    MapStateMachine sm = machines.get(id);
    return await(Future.future(p -> ((RaftNodeImpl) nodes.get(id)).nodeContext()
        .runOnContext(v -> p.complete(new HashMap<>(sm.data)))));
  }

  void onNodeContext(String id, Runnable action) {
    ((RaftNodeImpl) nodes.get(id)).nodeContext().runOnContext(v -> action.run());
  }

  /** Runs a membership change, retrying while the leader reports another one in progress. */
  void awaitChange(java.util.function.Supplier<Future<Void>> change) {
    for (int attempt = 0; ; attempt++) {
      Future<Void> f = change.get();
      awaitCompletion(f);
      if (f.succeeded()) {
        return;
      }
      if (attempt < 100 && f.cause() instanceof RaftException re
          && re.error() == RaftError.CHANGE_IN_PROGRESS) {
        pause(100);
        continue;
      }
      throw new AssertionError("membership change failed: " + f.cause(), f.cause());
    }
  }

  static long sent(Map<String, AtomicLong> counts, String id) {
    AtomicLong n = counts.get(id);
    return n == null ? 0 : n.get();
  }

  void eventually(String what, BooleanSupplier condition) {
    long deadline = System.currentTimeMillis() + WAIT_SECONDS * 1000;
    while (!condition.getAsBoolean()) {
      if (System.currentTimeMillis() > deadline) {
        throw new AssertionError("not within " + WAIT_SECONDS + " s: " + what);
      }
      pause(20);
    }
  }

  void pause(long millis) {
    await(Future.future(p -> vertx.setTimer(millis, t -> p.complete())));
  }

  static int indexOf(byte[] haystack, byte[] needle) {
    outer:
    for (int i = 0; i + needle.length <= haystack.length; i++) {
      for (int j = 0; j < needle.length; j++) {
        if (haystack[i + j] != needle[j]) {
          continue outer;
        }
      }
      return i;
    }
    return -1;
  }
}
