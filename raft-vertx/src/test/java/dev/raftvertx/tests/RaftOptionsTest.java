package dev.raftvertx.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.raftvertx.RaftOptions;
import dev.raftvertx.TlsOptions;
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
        .setMembershipTimeoutMillis(91).setJoin(true)
        .setTls(new TlsOptions().setCertPath("n1.crt").setKeyValue("KEY").setCaPath("ca.crt"));
    JsonObject json = o.toJson();
    assertEquals(json, new RaftOptions(json).toJson());
    assertEquals(json, new RaftOptions(o).toJson());
    assertEquals("c9", new RaftOptions(json).getClusterId());
    assertEquals(Map.of("n1", "127.0.0.1:7001", "n2", "127.0.0.1:7002"),
        new RaftOptions(json).getPeers());
    TlsOptions tls = new RaftOptions(json).getTls();
    assertEquals("n1.crt", tls.getCertPath());
    assertEquals("KEY", tls.getKeyValue());
    assertEquals("ca.crt", tls.getCaPath());
    assertEquals(null, tls.getCertValue());
    assertFalse(tls.toString().contains("KEY"), "the key's text is not printed: " + tls);
    assertEquals(null, new RaftOptions(valid().toJson()).getTls(), "no TLS unless set");
  }

  @Test
  void tlsNeedsTheTcpTransportAndEachOfCertificateKeyAndCaOnce() {
    RaftOptions tcp = valid().setTransport(RaftOptions.TransportKind.TCP);
    tcp.setTls(new TlsOptions().setCertPath("a.crt").setKeyPath("a.key").setCaPath("ca.crt"))
        .validate();
    tcp.setTls(new TlsOptions().setCertValue("C").setKeyValue("K").setCaValue("CA")).validate();
    assertRejected(valid().setTls(new TlsOptions().setCertPath("a.crt").setKeyPath("a.key")
        .setCaPath("ca.crt")), "TCP transport");
    assertRejected(tcp.setTls(new TlsOptions().setKeyPath("a.key").setCaPath("ca.crt")),
        "certificate");
    assertRejected(tcp.setTls(new TlsOptions().setCertPath("a.crt").setCaPath("ca.crt")),
        "private key");
    assertRejected(tcp.setTls(new TlsOptions().setCertPath("a.crt").setKeyPath("a.key")),
        "CA");
    assertRejected(tcp.setTls(new TlsOptions().setCertPath("a.crt").setCertValue("C")
        .setKeyPath("a.key").setCaPath("ca.crt")), "both");
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
