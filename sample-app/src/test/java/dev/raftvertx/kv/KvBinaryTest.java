package dev.raftvertx.kv;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.raftvertx.RaftNode;
import dev.raftvertx.RaftOptions;
import dev.raftvertx.client.KvBinaryClient;
import dev.raftvertx.client.KvBinaryClientOptions;
import dev.raftvertx.client.KvBinaryProtocol;
import dev.raftvertx.client.KvClientException;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.NetServer;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.ext.web.client.WebClient;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The binary client protocol against a real 3-node cluster: every op round trip through
 * {@link KvBinaryClient} (and the same store seen through the HTTP API), many requests
 * multiplexed on one connection, the NOT_LEADER redirect, malformed frames, and the client's
 * unknown-outcome failures against a server that never answers.
 */
class KvBinaryTest {

  @TempDir
  Path dir;
  Vertx vertx;
  final Map<String, RaftNode> nodes = new LinkedHashMap<>();
  final Map<String, String> addresses = new LinkedHashMap<>();
  final List<KvBinaryServer> servers = new ArrayList<>();
  int httpPort;

  static <T> T await(Future<T> f) {
    try {
      return f.await(30, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new AssertionError("failed: " + (f.cause() != null ? f.cause() : e), e);
    }
  }

  static Throwable failure(Future<?> f) {
    try {
      f.await(30, TimeUnit.SECONDS);
    } catch (Exception e) {
      if (f.failed()) {
        return f.cause();
      }
      throw new AssertionError("no outcome: " + e, e);
    }
    throw new AssertionError("succeeded: " + f.result());
  }

  @BeforeEach
  void setUp() {
    vertx = Vertx.vertx();
  }

  @AfterEach
  void tearDown() {
    for (KvBinaryServer s : servers) {
      await(s.close());
    }
    for (RaftNode n : nodes.values()) {
      await(n.close());
    }
    await(vertx.close());
  }

  void startCluster() {
    startCluster(null);
  }

  void startCluster(String token) {
    Map<String, String> members = new LinkedHashMap<>();
    for (int i = 1; i <= 3; i++) {
      members.put("n" + i, "local");
    }
    for (String id : members.keySet()) {
      RaftOptions o = new RaftOptions().setNodeId(id).setClusterId("kvbin").setPeers(members)
          .setDataDir(dir.resolve(id).toString()).setRequestTimeoutMillis(2_000)
          .setMaxEntryBytes(10_000);
      RaftNode node = await(RaftNode.deploy(vertx, o, new KvStateMachine()));
      nodes.put(id, node);
      KvBinaryServer server = new KvBinaryServer(vertx, node, 20_000).clientAddresses(addresses)
          .kvToken(token);
      await(server.listen("127.0.0.1", 0));
      servers.add(server);
      addresses.put(id, "127.0.0.1:" + server.actualPort());
    }
    // Every server knows every node's client address (the map is copied at each call).
    for (KvBinaryServer s : servers) {
      s.clientAddresses(addresses);
    }
    httpPort = await(new KvHttpServer(vertx, nodes.get("n1"), 20_000, "t")
        .listen("127.0.0.1", 0)).actualPort();
  }

  KvBinaryClient client(List<String> endpoints) {
    return KvBinaryClient.create(vertx, new KvBinaryClientOptions().setEndpoints(endpoints)
        .setConnections(1).setRetryTimeoutMillis(20_000));
  }

  /** @return the leader's id, once a write went through */
  String leaderId(KvBinaryClient c) {
    await(c.put("warm", Buffer.buffer("up")));
    String address = await(c.leader());
    for (Map.Entry<String, String> e : addresses.entrySet()) {
      if (e.getValue().equals(address)) {
        return e.getKey();
      }
    }
    throw new AssertionError("the leader " + address + " is none of " + addresses);
  }

  @Test
  void everyOpRoundTripsAndMatchesTheHttpApi() {
    startCluster();
    KvBinaryClient c = client(List.copyOf(addresses.values()));
    long index = await(c.put("color", Buffer.buffer("blue \u00e9")));
    assertTrue(index > 0);
    assertEquals("blue \u00e9", await(c.get("color")).toString(StandardCharsets.UTF_8));
    assertEquals("blue \u00e9", await(c.get("color", true)).toString(StandardCharsets.UTF_8));
    assertNull(await(c.get("missing")));
    assertNull(await(c.get("missing", true)));

    // The HTTP API sees the same store with the same values.
    WebClient web = WebClient.create(vertx);
    HttpResponse<Buffer> viaHttp = await(web.get(httpPort, "127.0.0.1", "/kv/color").send());
    assertEquals(200, viaHttp.statusCode());
    assertEquals("blue \u00e9", viaHttp.bodyAsString());
    assertEquals(200, await(web.put(httpPort, "127.0.0.1", "/kv/shape")
        .sendBuffer(Buffer.buffer("round"))).statusCode());
    assertEquals("round", await(c.get("shape")).toString());

    assertTrue(await(c.delete("color")));
    assertFalse(await(c.delete("color")));
    assertNull(await(c.get("color")));

    assertTrue(await(c.compareAndSet("lock", null, Buffer.buffer("a"))));
    assertFalse(await(c.compareAndSet("lock", null, Buffer.buffer("b"))));
    assertFalse(await(c.compareAndSet("lock", Buffer.buffer("x"), Buffer.buffer("b"))));
    assertTrue(await(c.compareAndSet("lock", Buffer.buffer("a"), Buffer.buffer("b"))));
    assertEquals("b", await(c.get("lock")).toString());
    assertEquals(200, await(web.get(httpPort, "127.0.0.1", "/kv/lock").send()).statusCode());
    await(c.close());
  }

  @Test
  void manyRequestsInFlightOnOneConnection() {
    startCluster();
    KvBinaryClient c = KvBinaryClient.create(vertx, new KvBinaryClientOptions()
        .setEndpoints(List.copyOf(addresses.values())).setConnections(1).setMaxInFlight(64)
        .setRetryTimeoutMillis(20_000));
    leaderId(c);
    List<Future<Long>> puts = new ArrayList<>();
    for (int i = 0; i < 500; i++) {
      puts.add(c.put("k" + i, Buffer.buffer("v" + i)));
    }
    await(Future.all(puts));
    Set<Long> indexes = new HashSet<>();
    puts.forEach(f -> indexes.add(f.result()));
    assertEquals(500, indexes.size(), "every write has its own log index");
    List<Future<Buffer>> gets = new ArrayList<>();
    for (int i = 0; i < 500; i++) {
      gets.add(c.get("k" + i, i % 2 == 0));
    }
    await(Future.all(gets));
    for (int i = 0; i < 500; i++) {
      assertEquals("v" + i, gets.get(i).result().toString(), "answer matched to its request");
    }
    await(c.close());
  }

  @Test
  void aFollowerRedirectsToTheLeaderAndTheClientFollows() throws Exception {
    startCluster();
    KvBinaryClient finder = client(List.copyOf(addresses.values()));
    String leader = leaderId(finder);
    String follower = nodes.keySet().stream().filter(id -> !id.equals(leader)).findFirst()
        .orElseThrow();
    try (RawConnection raw = new RawConnection(addresses.get(follower))) {
      Answer a = null;
      // The follower learns the leader from its events; ask until it names it.
      for (int i = 0; i < 50 && (a == null || a.leader.isEmpty()); i++) {
        raw.send(request(7 + i, KvBinaryProtocol.OP_PUT, "k", "v"));
        a = raw.answer();
        assertEquals(7 + i, a.id);
        assertEquals(KvBinaryProtocol.NOT_LEADER, a.status, a.toString());
      }
      assertEquals(leader, a.leader);
      assertEquals(addresses.get(leader), a.address);
      assertEquals("NOT_LEADER", a.code);
      // Linearizable reads are redirected too; stale reads are served by the follower.
      raw.send(request(100, KvBinaryProtocol.OP_GET, "warm", null));
      assertEquals(KvBinaryProtocol.NOT_LEADER, raw.answer().status);
      raw.send(request(101, KvBinaryProtocol.OP_GET_STALE, "warm", null));
      Answer stale = raw.answer();
      assertEquals(101, stale.id);
      assertTrue(stale.status == KvBinaryProtocol.OK || stale.status == KvBinaryProtocol.NOT_FOUND);
    }
    // A client that knows only the follower follows the hint.
    KvBinaryClient c = client(List.of(addresses.get(follower)));
    assertTrue(await(c.put("via-follower", Buffer.buffer("yes"))) > 0);
    assertEquals(addresses.get(leader), await(c.leader()));
    assertEquals("yes", await(finder.get("via-follower")).toString());
    await(c.close());
    await(finder.close());
  }

  @Test
  void malformedFramesGetAnErrorOrAClosedConnectionAndTheServerKeepsServing() throws Exception {
    startCluster();
    KvBinaryClient c = client(List.copyOf(addresses.values()));
    String leader = leaderId(c);
    String address = addresses.get(leader);
    // A negative length, a huge length, a length below the smallest frame: closed.
    for (int length : new int[] {-1, Integer.MAX_VALUE, 20_001, 3}) {
      try (RawConnection raw = new RawConnection(address)) {
        raw.out.writeInt(length);
        raw.out.writeLong(1);
        raw.out.flush();
        assertTrue(raw.closedByServer(), "length " + length + " closes the connection");
      }
    }
    try (RawConnection raw = new RawConnection(address)) {
      // An unknown op: BAD_REQUEST, the connection stays.
      raw.send(request(1, 99, "k", "v"));
      Answer a = raw.answer();
      assertEquals(1, a.id);
      assertEquals(KvBinaryProtocol.BAD_REQUEST, a.status);
      assertTrue(a.message.contains("unknown op"), a.message);
      // A key whose length runs past the frame.
      Buffer truncated = Buffer.buffer().appendLong(2).appendByte((byte) KvBinaryProtocol.OP_PUT)
          .appendUnsignedShort(100).appendString("abc");
      raw.send(truncated);
      a = raw.answer();
      assertEquals(2, a.id);
      assertEquals(KvBinaryProtocol.BAD_REQUEST, a.status);
      assertTrue(a.message.contains("truncated key"), a.message);
      // A value length past the frame, bytes after the request, a put without a value, an
      // empty key.
      raw.send(Buffer.buffer().appendLong(3).appendByte((byte) KvBinaryProtocol.OP_PUT)
          .appendUnsignedShort(1).appendString("k").appendInt(1000).appendString("v"));
      assertEquals(KvBinaryProtocol.BAD_REQUEST, raw.answer().status);
      raw.send(request(4, KvBinaryProtocol.OP_PUT, "k", "v").appendByte((byte) 0));
      assertEquals(KvBinaryProtocol.BAD_REQUEST, raw.answer().status);
      raw.send(request(5, KvBinaryProtocol.OP_PUT, "k", null));
      assertEquals(KvBinaryProtocol.BAD_REQUEST, raw.answer().status);
      raw.send(request(6, KvBinaryProtocol.OP_PUT, "", "v"));
      assertEquals(KvBinaryProtocol.BAD_REQUEST, raw.answer().status);
      // The same connection still serves a good request, sent in two pieces.
      Buffer good = request(7, KvBinaryProtocol.OP_PUT, "raw", "ok");
      byte[] bytes = frame(good).getBytes();
      raw.out.write(bytes, 0, 6);
      raw.out.flush();
      raw.out.write(bytes, 6, bytes.length - 6);
      raw.out.flush();
      a = raw.answer();
      assertEquals(7, a.id);
      assertEquals(KvBinaryProtocol.OK, a.status);
    }
    // None of it was applied but the good put; the server still serves new connections.
    assertEquals("ok", await(c.get("raw")).toString());
    assertNull(await(c.get("k")));
    await(c.close());
  }

  @Test
  void aNodeWithATokenServesOnlyConnectionsThatPresentIt() throws Exception {
    startCluster("s3cret");
    KvBinaryClient without = client(List.copyOf(addresses.values()));
    KvClientException e = (KvClientException) failure(without.put("k", Buffer.buffer("v")));
    assertEquals("UNAUTHORIZED", e.code(), e.toString());
    assertTrue(e.knownNotApplied());
    KvBinaryClient wrong = KvBinaryClient.create(vertx, new KvBinaryClientOptions()
        .setEndpoints(List.copyOf(addresses.values())).setToken("guess"));
    assertEquals("UNAUTHORIZED", ((KvClientException) failure(wrong.get("k"))).code());
    KvBinaryClient right = KvBinaryClient.create(vertx, new KvBinaryClientOptions()
        .setEndpoints(List.copyOf(addresses.values())).setToken("s3cret")
        .setRetryTimeoutMillis(20_000));
    assertTrue(await(right.put("k", Buffer.buffer("v"))) > 0);
    assertEquals("v", await(right.get("k")).toString());
    assertEquals("v", await(right.get("k", true)).toString());
    try (RawConnection raw = new RawConnection(addresses.get("n1"))) {
      raw.send(request(1, KvBinaryProtocol.OP_GET_STALE, "k", null));
      assertEquals(KvBinaryProtocol.UNAUTHORIZED, raw.answer().status);
      raw.send(request(2, KvBinaryProtocol.OP_STATUS, "", null));
      assertEquals(KvBinaryProtocol.OK, raw.answer().status, "STATUS is open, as GET /status");
      raw.send(request(3, KvBinaryProtocol.OP_AUTH, "", "nope"));
      assertEquals(KvBinaryProtocol.UNAUTHORIZED, raw.answer().status);
      raw.send(request(4, KvBinaryProtocol.OP_AUTH, "", "s3cret"));
      assertEquals(KvBinaryProtocol.OK, raw.answer().status);
      // A stale read of a key nobody wrote: n1 may be a follower that has not applied "k" yet,
      // so only a key that is absent everywhere gives one answer (NOT_FOUND, not UNAUTHORIZED).
      raw.send(request(5, KvBinaryProtocol.OP_GET_STALE, "never-written", null));
      Answer a = raw.answer();
      assertEquals(5, a.id);
      assertEquals(KvBinaryProtocol.NOT_FOUND, a.status);
    }
    await(without.close());
    await(wrong.close());
    await(right.close());
  }

  @Test
  void aWriteWithoutAnAnswerFailsWithAnUnknownOutcome() throws Exception {
    // A fake node that says it leads and then never answers: puts time out (unknown outcome);
    // reads are retried until the retry deadline, then fail.
    NetServer fake = await(vertx.createNetServer().connectHandler(socket -> socket.handler(
        new KvBinaryProtocol.FrameReader(1 << 20, frame -> {
          KvBinaryProtocol.Cursor in = new KvBinaryProtocol.Cursor(frame);
          long id = in.int64("id");
          if (in.uint8("op") == KvBinaryProtocol.OP_STATUS) {
            Buffer o = Buffer.buffer().appendLong(id).appendByte((byte) KvBinaryProtocol.OK);
            KvBinaryProtocol.appendStr16(o, "fake");
            KvBinaryProtocol.appendStr16(o, "leader");
            KvBinaryProtocol.appendStr16(o, "fake");
            o.appendLong(1);
            socket.write(frame(o));
          }
        }, e -> socket.close()))).listen(0, "127.0.0.1"));
    KvBinaryClient c = KvBinaryClient.create(vertx, new KvBinaryClientOptions()
        .setEndpoints(List.of("127.0.0.1:" + fake.actualPort())).setRequestTimeoutMillis(300)
        .setRetryTimeoutMillis(1_000));
    Throwable put = failure(c.put("k", Buffer.buffer("v")));
    assertTrue(put instanceof KvClientException, String.valueOf(put));
    assertFalse(((KvClientException) put).knownNotApplied(), "a write without an answer may"
        + " have been applied: " + put);
    assertEquals("TIMEOUT", ((KvClientException) put).code());
    Throwable get = failure(c.get("k"));
    assertEquals("TIMEOUT", ((KvClientException) get).code());
    await(c.close());
    await(fake.close());
    // Nothing listens there any more: nothing was sent, so the failure says not applied.
    KvBinaryClient gone = KvBinaryClient.create(vertx, new KvBinaryClientOptions()
        .setEndpoints(List.of("127.0.0.1:" + fake.actualPort())).setRetryTimeoutMillis(300));
    Throwable unreachable = failure(gone.put("k", Buffer.buffer("v")));
    assertTrue(((KvClientException) unreachable).knownNotApplied(), unreachable.toString());
    await(gone.close());
  }

  // ---- raw protocol helpers ----

  static Buffer request(long id, int op, String key, String value) {
    Buffer b = Buffer.buffer();
    KvBinaryProtocol.appendRequest(b, id, op, key.getBytes(StandardCharsets.UTF_8),
        value == null ? null : Buffer.buffer(value), null);
    return b.getBuffer(4, b.length()); // the payload, without its length
  }

  static Buffer frame(Buffer payload) {
    return Buffer.buffer().appendInt(payload.length()).appendBuffer(payload);
  }

  record Answer(long id, int status, String leader, String address, String code,
      String message) {
  }

  /** A blocking socket speaking raw frames (the test thread is no event loop). */
  static final class RawConnection implements AutoCloseable {
    final Socket socket;
    final DataOutputStream out;
    final DataInputStream in;

    RawConnection(String address) throws IOException {
      int colon = address.lastIndexOf(':');
      socket = new Socket(address.substring(0, colon),
          Integer.parseInt(address.substring(colon + 1)));
      socket.setSoTimeout(20_000);
      out = new DataOutputStream(socket.getOutputStream());
      in = new DataInputStream(socket.getInputStream());
    }

    void send(Buffer payload) throws IOException {
      out.write(frame(payload).getBytes());
      out.flush();
    }

    Answer answer() throws IOException {
      byte[] payload = new byte[in.readInt()];
      in.readFully(payload);
      KvBinaryProtocol.Cursor c = new KvBinaryProtocol.Cursor(Buffer.buffer(payload));
      long id = c.int64("id");
      int status = c.uint8("status");
      if (status <= KvBinaryProtocol.CONFLICT) {
        return new Answer(id, status, "", "", "", "");
      }
      return new Answer(id, status, c.str16("leader"), c.str16("address"), c.str16("code"),
          c.str16("message"));
    }

    boolean closedByServer() throws IOException {
      try {
        return in.read() == -1;
      } catch (EOFException | SocketException e) {
        return true;
      }
    }

    @Override
    public void close() throws IOException {
      socket.close();
    }
  }

  @Test
  void requestFramesHaveTheDocumentedLayout() {
    Buffer b = Buffer.buffer();
    KvBinaryProtocol.appendRequest(b, 0x0102030405060708L, KvBinaryProtocol.OP_CAS,
        "ké".getBytes(StandardCharsets.UTF_8), Buffer.buffer("v"), null);
    assertEquals(b.length() - 4, b.getInt(0));
    assertEquals(0x0102030405060708L, b.getLong(4));
    assertEquals(KvBinaryProtocol.OP_CAS, b.getByte(12));
    assertEquals(3, b.getUnsignedShort(13));
    assertEquals("ké", b.getString(15, 18, "UTF-8"));
    assertEquals(1, b.getInt(18));
    assertEquals('v', b.getByte(22));
    assertEquals(-1, b.getInt(23), "an absent expected value");
    assertEquals(27, b.length());
    assertNotEquals(0, KvBinaryProtocol.MAX_FRAME_BYTES);
  }
}
