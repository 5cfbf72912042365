package dev.raftvertx.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.raftvertx.RaftOptions;
import dev.raftvertx.TlsOptions;
import dev.raftvertx.core.Message.AppendEntriesRequest;
import dev.raftvertx.impl.transport.TcpBridgeOptions;
import dev.raftvertx.impl.transport.TcpBridgeTransport;
import dev.raftvertx.impl.transport.TransportMetrics;
import dev.raftvertx.testing.TestPki;
import io.vertx.core.Vertx;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The integration suite over the TCP transport with TLS and mutual authentication (certificates
 * of a CA made at test time, as PEM files), plus what TLS and the sender check keep out.
 */
class TlsClusterTest extends ClusterTestBase {

  private static TestPki ca;
  private static TestPki rogue;

  @BeforeAll
  static void certificateAuthorities() {
    ca = TestPki.create("itest cluster CA");
    rogue = TestPki.create("rogue CA");
  }

  @Override
  Map<String, String> addresses(List<String> ids) {
    Map<String, String> m = new LinkedHashMap<>();
    ids.forEach(id -> m.put(id, "127.0.0.1:" + TcpBridgeClusterTest.freePort()));
    return m;
  }

  @Override
  RaftOptions.TransportKind transport() {
    return RaftOptions.TransportKind.TCP;
  }

  @Override
  RaftOptions configure(String id, RaftOptions options) {
    return options.setTls(ca.writeFiles(dir.resolve("tls").resolve(id), id));
  }

  private TransportMetrics metrics(String id) {
    return ((TcpBridgeTransport) nodes.get(id).faults()).metrics();
  }

  /**
   * Runs a transport for a node id with these TLS settings, on its own port and Vert.x instance,
   * and sends, for a second, to each of the targets an AppendEntries of a much higher term: a
   * follower that took it would follow the sender in that term.
   *
   * @return the intruder's counters
   */
  private TransportMetrics intrude(String intruderId, TlsOptions tls, List<String> targets) {
    Map<String, String> map = new LinkedHashMap<>(options.get("n1").getPeers());
    options.forEach((id, o) -> map.put(id, o.getPeers().get(id)));
    map.put(intruderId, "127.0.0.1:" + TcpBridgeClusterTest.freePort());
    Vertx other = Vertx.vertx();
    try {
      TcpBridgeTransport intruder = new TcpBridgeTransport(other, "itest", intruderId, map,
          TcpBridgeOptions.defaults().withBackoffMillis(20, 100).withTls(tls));
      await(intruder.start());
      for (int round = 0; round < 20; round++) {
        for (String to : targets) {
          intruder.send(to, new AppendEntriesRequest(status(to).term() + 100, intruderId, to, 0,
              0, List.of(), 0, 0));
        }
        pause(50);
      }
      await(intruder.close());
      return intruder.metrics();
    } finally {
      await(other.close());
    }
  }

  @Test
  void aCertifiedNodeOutsideTheConfigurationIsRefusedByMembersAndAJoiningNode() {
    String leader = awaitLeader();
    long term = status(leader).term();
    // A node about to join accepts only the peers of its options until it has a configuration.
    Map<String, String> peers = new LinkedHashMap<>(options.get("n1").getPeers());
    peers.putAll(addresses(List.of("n5")));
    options.put("n5", configure("n5", new RaftOptions(options.get("n1")).setNodeId("n5")
        .setPeers(peers).setDataDir(dir.resolve("n5").toString()).setJoin(true)));
    start("n5");

    intrude("n9", ca.tls("n9"), List.of("n1", "n2", "n3", "n5"));

    for (String id : List.of("n1", "n2", "n3", "n5")) {
      TransportMetrics m = metrics(id);
      assertTrue(m.rejectedSender() > 0, id + ": " + m);
      assertTrue(m.lastRejection().contains("'n9'"), id + ": " + m.lastRejection());
    }
    assertEquals(0, status("n5").term(), "the joining node took no term from the intruder");
    stop("n5");
    assertEquals(leader, awaitLeader(), "the leader kept its place");
    assertEquals(term, status(leader).term(), "nobody took the intruder's term");
    put(leader, "still", "works");
  }

  @Test
  void aNodeWithACertificateFromAnotherCaIsRefusedAtTheHandshake() {
    String leader = awaitLeader();
    long term = status(leader).term();
    String follower = follower(leader);
    List<String> others = nodes.keySet().stream().filter(id -> !id.equals(follower)).toList();
    // It claims to be a member and trusts the cluster's CA, but its certificate is not the CA's.
    TlsOptions forged = rogue.tls(follower).setCaValue(ca.caPem());
    TransportMetrics impostor = intrude(follower, forged, others);
    for (String id : others) {
      assertTrue(metrics(id).rejectedConnections() > 0, id + ": " + metrics(id));
      assertEquals(0, metrics(id).rejectedSender(), "no message got as far as the sender check");
    }
    assertTrue(impostor.droppedUnavailable() > 0, impostor.toString());
    assertEquals(leader, awaitLeader());
    assertEquals(term, status(leader).term(), "nobody took the impostor's term");
  }
}
