package dev.raftvertx.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.raftvertx.NodeStatus;
import dev.raftvertx.RaftNode;
import dev.raftvertx.RaftOptions;
import dev.raftvertx.impl.transport.RaftWire;
import dev.raftvertx.impl.transport.WireFormatException;
import dev.raftvertx.impl.transport.WireFuzzer;
import dev.raftvertx.testing.FuzzSeed;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetSocket;
import io.vertx.junit5.VertxExtension;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Fuzzed messages delivered to running nodes: three nodes over the TCP bridge on 127.0.0.1, and
 * a raw connection to each node's bridge port that sends a few hundred bad frames (messages
 * mutated by {@link WireFuzzer} that the wire refuses, in JSON and in binary form, JSON text that is not a message, bodies
 * that are not objects, frames for other addresses and of other bridge types, and on throwaway
 * connections bad length prefixes and bytes that are not frames at all), while the cluster keeps
 * taking writes. Afterwards every node is up with no error, the cluster commits, and every write
 * it acknowledged reads back on every node.
 *
 * <p>Only messages the wire refuses are sent: a well-formed message that claims to come from a
 * member is, over plain TCP, indistinguishable from that member's (that is what TLS and the sender
 * check are for), so it is not "bad input". Seeded like the other fuzz tests ({@link FuzzSeed}).
 */
@ExtendWith(VertxExtension.class)
class WireFuzzClusterTest {

  static final int DEFAULT_FRAMES = 300;
  static final long WAIT_SECONDS = 30;
  static final String CLUSTER = "fuzz";

  @TempDir
  Path dir;
  Vertx vertx;
  final Map<String, String> addresses = new LinkedHashMap<>();
  final Map<String, RaftNode> nodes = new LinkedHashMap<>();
  final Map<String, String> acknowledged = new LinkedHashMap<>();
  NetClient net;

  static <T> T await(Future<T> f) {
    try {
      return f.await(WAIT_SECONDS, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new AssertionError("timed out or failed: " + (f.cause() != null ? f.cause() : e), e);
    }
  }

  @BeforeEach
  void start(Vertx vertx) {
    this.vertx = vertx;
    for (String id : List.of("n1", "n2", "n3")) {
      addresses.put(id, "127.0.0.1:" + TcpBridgeClusterTest.freePort());
    }
    for (String id : addresses.keySet()) {
      RaftOptions o = new RaftOptions().setNodeId(id).setClusterId(CLUSTER).setPeers(addresses)
          .setDataDir(dir.resolve(id).toString()).setTransport(RaftOptions.TransportKind.TCP)
          .setRequestTimeoutMillis(5_000);
      nodes.put(id, await(RaftNode.deploy(vertx, o, new MapStateMachine())));
    }
    net = vertx.createNetClient();
  }

  @AfterEach
  void stop() {
    if (net != null) {
      await(net.close());
    }
    for (RaftNode n : nodes.values()) {
      await(n.close());
    }
  }

  @Test
  void malformedFramesAndMessagesLeaveEveryNodeUpWithEveryAcknowledgedWrite() {
    FuzzSeed seed = FuzzSeed.fromProperties("WireFuzzClusterTest", DEFAULT_FRAMES);
    RaftWire wire = new RaftWire(CLUSTER);
    for (int i = 0; i < 5; i++) {
      write("before" + i, "v" + i);
    }
    Map<String, NetSocket> sockets = new java.util.concurrent.ConcurrentHashMap<>();
    int sent = 0;
    int refused = 0;
    for (int i = seed.first(); i < seed.end(); i++) {
      Random r = new Random(seed.caseSeed(i));
      String target = List.copyOf(addresses.keySet()).get(r.nextInt(addresses.size()));
      String rpc = RaftWire.rpcAddress(CLUSTER, target);
      int kind = r.nextInt(20);
      if (kind == 0) { // a throwaway connection with a broken stream
        NetSocket s = connect(addresses.get(target));
        s.write(brokenStream(r));
        await(s.close());
        sent++;
        continue;
      }
      if (kind < 4) { // a message in binary form that the wire refuses, as a frame of its own
        byte[] mutated = WireFuzzer.mutateBinary(wire.encodeBinary(
            WireFuzzer.validBinaryMessage(r)).getBytes(), r, RaftWire.DEFAULT_MAX_ENTRIES_BYTES);
        if (mutated.length < 2 || !refusedBinary(wire, mutated)) {
          continue;
        }
        mutated[0] = RaftWire.BINARY_MAGIC; // a binary frame still, not a JSON one
        if (!refusedBinary(wire, mutated)) {
          continue;
        }
        socket(sockets, target).write(Buffer.buffer().appendInt(mutated.length)
            .appendBytes(mutated));
        sent++;
        refused++;
        continue;
      }
      String body;
      if (kind < 13) {
        JsonObject mutated = WireFuzzer.mutate(wire.encode(WireFuzzer.validMessage(r)), r,
            RaftWire.DEFAULT_MAX_ENTRIES_BYTES);
        if (!refusedBy(wire, mutated)) {
          continue; // well-formed: not bad input (see the class comment)
        }
        body = encodeLeniently(mutated);
        refused++;
      } else if (kind < 16) {
        body = WireFuzzer.mutateText(wire.encode(WireFuzzer.validMessage(r)).encode(), r);
        JsonObject parsed;
        try {
          parsed = new JsonObject(body);
        } catch (DecodeException notJson) {
          parsed = null;
        }
        if (parsed != null && !refusedBy(wire, parsed)) {
          continue;
        }
        refused++;
      } else {
        body = List.of("\"a string\"", "[1,2]", "12", "null", "true", "{}").get(r.nextInt(6));
      }
      String type = kind >= 18 ? List.of("publish", "register", "ping", "nonsense", "send")
          .get(r.nextInt(5)) : "send";
      String address = kind == 19 ? List.of("raft.other." + target + ".rpc",
          RaftWire.rpcAddress(CLUSTER, "nobody"), "", "x".repeat(300)).get(r.nextInt(4)) : rpc;
      String frame = "{\"type\":\"" + type + "\",\"address\":" + new JsonObject()
          .put("a", address).encode().substring(5).replaceFirst("}$", "") + ",\"body\":" + body
          + "}";
      byte[] bytes = frame.getBytes(StandardCharsets.UTF_8);
      Buffer framed = Buffer.buffer().appendInt(bytes.length).appendBytes(bytes);
      if (isJson(frame)) { // on the connection kept open (dialled again if the node closed it)
        socket(sockets, target).write(framed);
      } else { // a frame that is not JSON may close its connection: a throwaway one
        NetSocket s = connect(addresses.get(target));
        s.write(framed);
        await(s.close());
      }
      sent++;
      if (i % 50 == 0) {
        write("during" + i, "v" + i); // the cluster keeps committing under the barrage
      }
    }
    for (NetSocket s : List.copyOf(sockets.values())) {
      s.close();
    }
    System.out.printf("FUZZ WireFuzzClusterTest: %d frames sent (%d messages the wire refuses)%n",
        sent, refused);

    write("after", "yes");
    String leader = awaitLeader();
    long last = await(nodes.get(leader).status()).commitIndex();
    for (Map.Entry<String, RaftNode> e : nodes.entrySet()) {
      NodeStatus s = await(e.getValue().status());
      assertNull(s.error(), e.getKey() + " failed: " + s.error());
      awaitApplied(e.getKey(), last);
      for (Map.Entry<String, String> w : acknowledged.entrySet()) {
        assertEquals(w.getValue(), await(e.getValue().readLocal(Buffer.buffer(w.getKey())))
            .toString(), e.getKey() + " lost " + w.getKey());
      }
    }
  }

  /** The connection kept open to a node, dialled again if the node closed it. */
  private NetSocket socket(Map<String, NetSocket> sockets, String target) {
    NetSocket s = sockets.get(target);
    if (s == null) { // not in computeIfAbsent: connect() waits for an event loop
      NetSocket c = connect(addresses.get(target));
      c.closeHandler(v -> sockets.remove(target, c));
      sockets.put(target, c);
      s = c;
    }
    return s;
  }

  private static boolean refusedBinary(RaftWire wire, byte[] bytes) {
    try {
      wire.decodeBinary(Buffer.buffer(bytes));
      return false;
    } catch (WireFormatException e) {
      return true;
    }
  }

  private static boolean isJson(String text) {
    try {
      new JsonObject(text);
      return true;
    } catch (DecodeException e) {
      return false;
    }
  }

  private static boolean refusedBy(RaftWire wire, JsonObject json) {
    try {
      wire.decode(json);
      return false;
    } catch (WireFormatException e) {
      return true;
    }
  }

  /** JSON text of an object whose values may not be JSON (NaN): then as a string. */
  private static String encodeLeniently(JsonObject json) {
    try {
      return json.encode();
    } catch (RuntimeException e) {
      return "\"" + e.getClass().getSimpleName() + "\"";
    }
  }

  /** Bytes that are not a valid frame stream: a bad length prefix, or no frame at all. */
  private static Buffer brokenStream(Random r) {
    Buffer b = Buffer.buffer();
    switch (r.nextInt(4)) {
      case 0 -> b.appendInt(-1 - r.nextInt(100)).appendString("{}");
      case 1 -> b.appendInt(r.nextInt(2)).appendString("{}");
      case 2 -> b.appendInt(5).appendString("nope!");
      default -> {
        byte[] junk = new byte[1 + r.nextInt(64)];
        r.nextBytes(junk);
        b.appendBytes(junk);
      }
    }
    return b;
  }

  private NetSocket connect(String hostPort) {
    int colon = hostPort.lastIndexOf(':');
    NetSocket s = await(net.connect(Integer.parseInt(hostPort.substring(colon + 1)),
        hostPort.substring(0, colon)));
    s.handler(reply -> { }); // the bridge's error frames: not what this test checks
    return s;
  }

  /**
   * Proposes key=value through the leader until it is acknowledged. A failure whose outcome is
   * unknown (the leader lost its leadership under the load, say) is retried too: setting the
   * same value again is harmless, and only an acknowledged write is recorded.
   */
  private void write(String key, String value) {
    for (int attempt = 0; ; attempt++) {
      String leader = awaitLeader();
      Future<?> f = nodes.get(leader).propose(Buffer.buffer(key + "=" + value));
      try {
        f.await(WAIT_SECONDS, TimeUnit.SECONDS);
        acknowledged.put(key, value);
        return;
      } catch (Exception e) {
        if (attempt < 20 && f.cause() instanceof dev.raftvertx.RaftException) {
          pause(100);
          continue;
        }
        throw new AssertionError("write " + key + " failed: " + (f.cause() != null ? f.cause()
            : e), e);
      }
    }
  }

  private String awaitLeader() {
    long deadline = System.currentTimeMillis() + WAIT_SECONDS * 1000;
    while (System.currentTimeMillis() < deadline) {
      List<String> leaders = new ArrayList<>();
      for (Map.Entry<String, RaftNode> e : nodes.entrySet()) {
        if (await(e.getValue().status()).isLeader()) {
          leaders.add(e.getKey());
        }
      }
      if (leaders.size() == 1) {
        return leaders.get(0);
      }
      pause(50);
    }
    throw new AssertionError("no single leader within " + WAIT_SECONDS + " s");
  }

  private void awaitApplied(String id, long index) {
    long deadline = System.currentTimeMillis() + WAIT_SECONDS * 1000;
    while (await(nodes.get(id).status()).lastApplied() < index) {
      assertTrue(System.currentTimeMillis() < deadline, id + " did not apply up to " + index);
      pause(20);
    }
  }

  private void pause(long millis) {
    await(Future.future(p -> vertx.setTimer(millis, t -> p.complete())));
  }
}
