package dev.raftvertx.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.raftvertx.RaftOptions;
import io.vertx.core.json.JsonObject;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** RaftOptions follows the Vert.x conventions: defaults, fluent setters, JSON round trip. */
class RaftOptionsTest {

  static RaftOptions valid() {
    return new RaftOptions().setNodeId("n1").setDataDir("data/n1")
        .setPeers(Map.of("n1", "127.0.0.1:7001", "n2", "127.0.0.1:7002"));
  }

  @Test
  void defaultsMatchTheDocumentedConstants() {
    RaftOptions o = new RaftOptions();
    assertEquals(150, o.getElectionTimeoutMillis());
    assertEquals(50, o.getHeartbeatIntervalMillis());
    assertEquals(RaftOptions.DEFAULT_TRANSPORT, o.getTransport());
    assertTrue(o.isPreVote() && o.isCheckQuorum());
  }

  @Test
  void jsonRoundTripKeepsEveryField() {
    RaftOptions o = valid().setClusterId("c9").setTransport(RaftOptions.TransportKind.TCP)
        .setTickMillis(5).setElectionTimeoutMillis(400).setHeartbeatIntervalMillis(40)
        .setPreVote(false).setCheckQuorum(false).setMaxInflightAppends(7).setMaxInflightBytes(99)
        .setMaxAppendBytes(98).setMaxUncommittedEntries(97).setMaxEntryBytes(96)
        .setRequestTimeoutMillis(95).setSessionTimeoutMillis(94).setMaxSessions(93)
        .setSessionResponseWindow(92).setMaxSegmentBytes(4096).setLearnerCatchUpMaxLag(3)
        .setMembershipTimeoutMillis(91).setJoin(true);
    JsonObject json = o.toJson();
    assertEquals(json, new RaftOptions(json).toJson());
    assertEquals(json, new RaftOptions(o).toJson());
    assertEquals("c9", new RaftOptions(json).getClusterId());
    assertEquals(Map.of("n1", "127.0.0.1:7001", "n2", "127.0.0.1:7002"),
        new RaftOptions(json).getPeers());
  }

  @Test
  void invalidOptionsAreRejectedWithTheOptionNamed() {
    valid().validate();
    assertRejected(valid().setNodeId(null), "nodeId");
    assertRejected(valid().setNodeId("a b"), "nodeId");
    assertRejected(valid().setClusterId("x.y"), "clusterId");
    assertRejected(valid().setPeers(Map.of("n2", "127.0.0.1:7002")), "peers");
    assertRejected(valid().setDataDir(null), "dataDir");
    assertRejected(valid().setHeartbeatIntervalMillis(200), "electionTimeoutMillis");
    assertRejected(valid().setMaxEntryBytes(0), "limits");
    assertRejected(valid().setTransport(RaftOptions.TransportKind.TCP)
        .setPeers(Map.of("n1", "nowhere")), "host:port");
  }

  private static void assertRejected(RaftOptions o, String mentions) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, o::validate);
    assertTrue(e.getMessage().contains(mentions), e.getMessage());
  }
}
