package dev.raftvertx.impl.transport;

import static dev.raftvertx.impl.transport.TransportTestSupport.WAIT_SECONDS;
import static dev.raftvertx.impl.transport.TransportTestSupport.assertSameMessage;
import static dev.raftvertx.impl.transport.TransportTestSupport.await;
import static dev.raftvertx.impl.transport.TransportTestSupport.awaitCondition;
import static dev.raftvertx.impl.transport.TransportTestSupport.freePort;
import static dev.raftvertx.impl.transport.TransportTestSupport.start;
import static dev.raftvertx.impl.transport.TransportTestSupport.vote;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.raftvertx.core.EntryType;
import dev.raftvertx.core.LogEntry;
import dev.raftvertx.core.Message;
import dev.raftvertx.core.Message.AppendEntriesRequest;
import dev.raftvertx.impl.transport.TransportTestSupport.Node;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetServer;
import io.vertx.core.net.NetServerOptions;
import io.vertx.core.net.NetSocket;
import io.vertx.junit5.Timeout;
import io.vertx.junit5.VertxExtension;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Every node runs in its own Vert.x instance, so messages can only travel over TCP through the
 * bridge.
 */
@ExtendWith(VertxExtension.class)
@Timeout(value = 90, timeUnit = TimeUnit.SECONDS)
class TcpBridgeTransportTest {

  private static final TcpBridgeOptions FAST =
      TcpBridgeOptions.defaults().withBackoffMillis(20, 200).withConnectTimeoutMillis(1000);

  private final List<Vertx> instances = new ArrayList<>();
  private int portA;
  private int portB;
  private Map<String, String> addresses;

  @BeforeEach
  void ports() throws Exception {
    portA = freePort();
    portB = freePort();
    addresses = Map.of("a", "127.0.0.1:" + portA, "b", "127.0.0.1:" + portB);
  }

  @AfterEach
  void closeInstances() {
    for (Vertx v : instances) {
      await(v.close());
    }
  }

  private Vertx newVertx() {
    Vertx v = Vertx.vertx();
    instances.add(v);
    return v;
  }

  private Node<TcpBridgeTransport> node(String id, Map<String, String> map,
      TcpBridgeOptions options) {
    Vertx v = newVertx();
    return start(v, new TcpBridgeTransport(v, "c1", id, map, options));
  }

  private Node<TcpBridgeTransport> node(String id) {
    return node(id, addresses, FAST);
  }

  /**
   * Sends a vote of this term every 50 ms until the receiver gets one; the first message the
   * receiver gets must be of this term.
   */
  private static void sendUntilReceived(Node<?> from, Node<?> to, long term)
      throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_SECONDS);
    while (System.nanoTime() < deadline) {
      from.send(vote(from.transport().nodeId(), to.transport().nodeId(), term));
      Message m = to.inbox().poll(50, TimeUnit.MILLISECONDS);
      if (m != null) {
        assertEquals(term, m.term(), "first message to arrive");
        return;
      }
    }
    throw new AssertionError(to.transport().nodeId() + " never received from "
        + from.transport().nodeId() + ": " + from.transport().metrics());
  }

  /** Skips the duplicates {@link #sendUntilReceived} may leave and returns the next newer one. */
  private static Message nextAtLeast(Node<?> node, long term) throws InterruptedException {
    while (true) {
      Message m = node.next();
      if (m.term() >= term) {
        return m;
      }
    }
  }

  @Test
  void exchangesEveryMessageTypeBothWays() throws Exception {
    Node<TcpBridgeTransport> a = node("a");
    Node<TcpBridgeTransport> b = node("b");
    sendUntilReceived(a, b, 1);
    sendUntilReceived(b, a, 1);

    List<Message> samples = RaftWireTest.samples().stream()
        .filter(m -> m.from().equals("a") && m.to().equals("b")).toList();
    a.context().runOnContext(v -> samples.forEach(m -> a.transport().send("b", m)));
    assertSameMessage(samples.get(0), nextAtLeast(b, 2));
    for (Message expected : samples.subList(1, samples.size())) {
      assertSameMessage(expected, b.next());
    }
    assertSame(b.context(), b.deliveryContexts().take());
    assertEquals(0, b.transport().metrics().rejected());
  }

  private static void assertSame(Object expected, Object actual) {
    org.junit.jupiter.api.Assertions.assertSame(expected, actual,
        "delivered on the context that started the transport");
  }

  @Test
  void dropsWhileThePeerIsDownThenConnectsWhenItStarts() throws Exception {
    Node<TcpBridgeTransport> a = node("a");
    a.send(vote("a", "b", 1));
    awaitCondition(a.transport().vertx, "drop",
        () -> a.transport().metrics().droppedUnavailable() == 1);
    assertEquals(0, a.transport().metrics().sendFailures());

    Node<TcpBridgeTransport> b = node("b");
    sendUntilReceived(a, b, 2);
  }

  @Test
  void reconnectsAfterThePeerRestarts() throws Exception {
    Node<TcpBridgeTransport> a = node("a");
    Node<TcpBridgeTransport> b = node("b");
    sendUntilReceived(a, b, 1);

    await(b.transport().close());
    a.send(vote("a", "b", 2));

    Node<TcpBridgeTransport> b2 = node("b");
    sendUntilReceived(a, b2, 3);
    sendUntilReceived(b2, a, 3);
  }

  @Test
  void theBridgeAcceptsNothingButItsOwnRaftAddress() throws Exception {
    Node<TcpBridgeTransport> b = node("b");
    Vertx bVertx = b.transport().vertx;
    BlockingQueue<Object> snooped = new LinkedBlockingQueue<>();
    for (String address : List.of("raft.c1.other.rpc", "some.address", "raft.c1.a.rpc")) {
      await(bVertx.eventBus().consumer(address, m -> snooped.add(m.body())).completion());
    }

    Vertx client = newVertx();
    BlockingQueue<JsonObject> replies = new LinkedBlockingQueue<>();
    NetSocket socket = await(client.createNetClient().connect(portB, "127.0.0.1"));
    socket.handler(BridgeFrames.reader(1 << 16, replies::add, e -> replies.add(new JsonObject())));
    RaftWire wire = new RaftWire("c1");

    JsonObject toOther = wire.encode(vote("a", "other", 1));
    write(socket, new JsonObject().put("type", "send").put("address", "raft.c1.other.rpc")
        .put("body", toOther));
    assertDenied(replies);
    write(socket, new JsonObject().put("type", "send").put("address", "some.address")
        .put("body", new JsonObject().put("x", 1)));
    assertDenied(replies);
    write(socket, new JsonObject().put("type", "publish").put("address", "raft.c1.a.rpc")
        .put("body", wire.encode(vote("b", "a", 1))));
    assertDenied(replies);
    write(socket, new JsonObject().put("type", "register").put("address", "raft.c1.b.rpc"));
    assertDenied(replies);

    // Its own address is open, but only to valid messages of its cluster for it.
    write(socket, new JsonObject().put("type", "send").put("address", "raft.c1.b.rpc")
        .put("body", "not an object"));
    write(socket, new JsonObject().put("type", "send").put("address", "raft.c1.b.rpc")
        .put("body", new RaftWire("c2").encode(vote("a", "b", 1))));
    write(socket, new JsonObject().put("type", "send").put("address", "raft.c1.b.rpc")
        .put("body", wire.encode(vote("a", "b", 1)).put("v", 2)));
    write(socket, new JsonObject().put("type", "send").put("address", "raft.c1.b.rpc")
        .put("body", wire.encode(vote("a", "c", 1))));
    JsonObject badEntries = wire.encode(new AppendEntriesRequest(1, "a", "b", 0, 0,
        List.of(new LogEntry(1, 1, EntryType.NOOP, 0, 0, 0, null)), 0, 0));
    badEntries.put("entries", Base64.getEncoder().encodeToString(new byte[] {0, 0, 0, 9}));
    write(socket, new JsonObject().put("type", "send").put("address", "raft.c1.b.rpc")
        .put("body", badEntries));
    // binary frames: a corrupt AppendEntries (bad entries blob) and one for another cluster
    io.vertx.core.buffer.Buffer binary = wire.encodeBinary(new AppendEntriesRequest(1, "a", "b",
        0, 0, List.of(new LogEntry(1, 1, EntryType.NOOP, 0, 0, 0, null)), 0, 0));
    binary.setInt(binary.length() - 53, 9); // the blob length field: 9 of 49 bytes
    socket.write(BridgeFrames.frame(binary));
    socket.write(BridgeFrames.frame(new RaftWire("c2").encodeBinary(
        new dev.raftvertx.core.Message.AppendEntriesResponse(1, "a", "b", true, 1, 0, 0, 0, 0))));
    write(socket, new JsonObject().put("type", "send").put("address", "raft.c1.b.rpc")
        .put("body", wire.encode(vote("a", "b", 42))));

    assertEquals(42, b.next().term());
    // 4 frames denied, 7 bodies that do not decode; each answered with an error frame
    assertEquals(11, b.transport().metrics().rejected(), b.transport().metrics().toString());
    assertEquals(0, b.transport().metrics().rejectedConnections());
    assertEquals(1, b.transport().metrics().received());
    for (String expected : List.of("invalid_message", "invalid_message", "invalid_message",
        "refused", "invalid_message", "invalid_message", "invalid_message")) {
      // the vote for c decodes, but b refuses it
      assertEquals(expected, replies.take().getString("message"));
    }
    assertTrue(snooped.isEmpty(), "delivered past the bridge: " + snooped);
  }

  /** A raw client of b's bridge: what it reads goes to replies, and closed completes on close. */
  private record Raw(NetSocket socket, BlockingQueue<JsonObject> replies, Promise<Void> closed) {
  }

  private Vertx clients;

  private Raw raw(int port) {
    if (clients == null) {
      clients = newVertx();
    }
    NetSocket socket = await(clients.createNetClient().connect(port, "127.0.0.1"));
    BlockingQueue<JsonObject> replies = new LinkedBlockingQueue<>();
    Promise<Void> closed = Promise.promise();
    socket.handler(BridgeFrames.reader(1 << 16, replies::add,
        e -> replies.add(new JsonObject().put("reader", e))));
    socket.closeHandler(v -> closed.tryComplete());
    return new Raw(socket, replies, closed);
  }

  @Test
  void aLengthPrefixOutOfBoundsClosesThatConnectionOnly() throws Exception {
    Node<TcpBridgeTransport> a = node("a");
    Node<TcpBridgeTransport> b = node("b");
    sendUntilReceived(a, b, 1);
    TransportMetrics metrics = b.transport().metrics();

    // A peer that announced a frame within bounds and stalls holds up nobody else.
    Raw stalled = raw(portB);
    stalled.socket().write(Buffer.buffer().appendInt(1000).appendString("{\"type\":"));

    int max = FAST.maxFrameBytes();
    int[] lengths = {Integer.MAX_VALUE, -1, Integer.MIN_VALUE, -4, 0, 1, max + 1};
    for (int i = 0; i < lengths.length; i++) {
      Raw bad = raw(portB);
      // the announced bytes never come: the prefix alone must end it, nothing is buffered
      bad.socket().write(Buffer.buffer().appendInt(lengths[i]).appendString("{\"type\":\"send\""));
      await(bad.closed().future());
      JsonObject reply = bad.replies().poll();
      if (reply != null) {
        assertEquals("invalid_frame", reply.getString("message"), reply.encode());
      }
      assertEquals(i + 1, metrics.rejectedConnections(), metrics.toString());
      assertTrue(metrics.lastRejection().contains("frame length " + lengths[i]),
          metrics.lastRejection());
      // the node goes on serving its peers
      sendUntilReceived(a, b, 2 + i);
    }
    assertEquals(lengths.length, metrics.rejected());
    assertEquals(0, metrics.rejectedSender());
    assertTrue(!stalled.closed().future().isComplete(), "the stalled peer was not cut off");
  }

  @Test
  void aFrameThatIsNotJsonClosesTheConnectionWithAnError() throws Exception {
    Node<TcpBridgeTransport> b = node("b");
    for (String junk : List.of("hello", "[1,2,3]", "\"text\"", "{\"a\":")) {
      Raw bad = raw(portB);
      Buffer bytes = Buffer.buffer(junk);
      bad.socket().write(Buffer.buffer().appendInt(bytes.length()).appendBuffer(bytes));
      await(bad.closed().future());
      JsonObject reply = bad.replies().poll(WAIT_SECONDS, TimeUnit.SECONDS);
      assertNotNull(reply, "no error frame before the close");
      assertEquals("invalid_frame", reply.getString("message"), reply.encode());
    }
    TransportMetrics metrics = b.transport().metrics();
    assertEquals(4, metrics.rejectedConnections(), metrics.toString());
    assertEquals(4, metrics.rejected(), metrics.toString());
    Node<TcpBridgeTransport> a = node("a");
    sendUntilReceived(a, b, 1);
  }

  @Test
  void answersPingsAndRefusesUnknownFramesOnAConnectionThatStaysUp() throws Exception {
    Node<TcpBridgeTransport> b = node("b");
    Raw client = raw(portB);
    write(client.socket(), new JsonObject().put("type", "ping"));
    assertEquals("pong", client.replies().take().getString("type"));
    write(client.socket(), new JsonObject().put("type", "shout").put("address", "raft.c1.b.rpc"));
    assertEquals("unknown_type", client.replies().take().getString("message"));
    write(client.socket(), new JsonObject().put("address", "raft.c1.b.rpc"));
    assertEquals("unknown_type", client.replies().take().getString("message"));
    write(client.socket(), new JsonObject().put("type", "send").put("body", new JsonObject()));
    assertEquals("address_required", client.replies().take().getString("message"));
    write(client.socket(), new JsonObject().put("type", "send").put("address", "raft.c1.b.rpc")
        .put("body", new RaftWire("c1").encode(vote("a", "b", 3))));
    assertEquals(3, b.next().term());
    assertEquals(3, b.transport().metrics().rejected());
    assertEquals(0, b.transport().metrics().rejectedConnections());
  }

  @Test
  void refusesSendersThatAreNotAllowedAndCountsThem() throws Exception {
    Node<TcpBridgeTransport> b = node("b");
    b.transport().allowSenders(java.util.Set.of("a", "b")::contains);
    Raw client = raw(portB);
    RaftWire wire = new RaftWire("c1");
    write(client.socket(), new JsonObject().put("type", "send").put("address", "raft.c1.b.rpc")
        .put("body", wire.encode(vote("stranger", "b", 1))));
    assertEquals("refused", client.replies().take().getString("message"));
    TransportMetrics metrics = b.transport().metrics();
    assertEquals(1, metrics.rejectedSender(), metrics.toString());
    assertEquals(1, metrics.rejected(), metrics.toString());
    assertTrue(metrics.lastRejection().contains("'stranger'"), metrics.lastRejection());

    write(client.socket(), new JsonObject().put("type", "send").put("address", "raft.c1.b.rpc")
        .put("body", wire.encode(vote("a", "b", 2))));
    assertEquals(2, b.next().term());
    assertEquals(1, metrics.received());
  }

  private static void write(NetSocket socket, JsonObject frame) {
    Buffer json = frame.toBuffer();
    socket.write(Buffer.buffer().appendInt(json.length()).appendBuffer(json));
  }

  private static void assertDenied(BlockingQueue<JsonObject> replies) throws InterruptedException {
    JsonObject reply = replies.poll(WAIT_SECONDS, TimeUnit.SECONDS);
    assertNotNull(reply, "no answer from the bridge");
    assertEquals("err", reply.getString("type"), reply.encode());
    assertEquals("access_denied", reply.getString("message"), reply.encode());
  }

  @Test
  void faultsApplyOverTcp() throws Exception {
    Node<TcpBridgeTransport> a = node("a");
    Node<TcpBridgeTransport> b = node("b");
    sendUntilReceived(a, b, 1);
    sendUntilReceived(b, a, 1);

    a.transport().partition("b");
    a.send(vote("a", "b", 2));
    b.send(vote("b", "a", 2));
    awaitCondition(a.transport().vertx, "both dropped",
        () -> a.transport().metrics().droppedByFaults() == 2);
    a.transport().heal("b");
    a.send(vote("a", "b", 3));
    b.send(vote("b", "a", 3));
    assertEquals(3, nextAtLeast(b, 2).term(), "the partitioned message never arrived");
    assertEquals(3, nextAtLeast(a, 2).term(), "the partitioned message never arrived");

    a.transport().cut("a", "b");
    a.send(vote("a", "b", 4));
    b.send(vote("b", "a", 4));
    assertEquals(4, a.next().term(), "the other direction still flows");
    // the send is carried out on a's context: wait until the cut has dropped it
    awaitCondition(a.transport().vertx, "the cut dropped it",
        () -> a.transport().metrics().droppedByFaults() == 3);
    a.transport().clearFaults();
    a.send(vote("a", "b", 5));
    assertEquals(5, b.next().term(), "the cut message never arrived");
  }

  @Test
  void duplicatesAndReordersOverTcp() throws Exception {
    Node<TcpBridgeTransport> a = node("a");
    Node<TcpBridgeTransport> b = node("b");
    sendUntilReceived(a, b, 1);

    // every message written twice to the socket, each copy arriving as a message of its own
    a.transport().duplicateFraction(1);
    a.send(vote("a", "b", 2));
    assertEquals(2, nextAtLeast(b, 2).term());
    assertEquals(2, b.next().term());
    assertEquals(1, a.transport().metrics().duplicatedByFaults());

    // a jitter makes the one connection deliver them out of the order they were sent in
    a.transport().duplicateFraction(0);
    a.transport().delayJitterMillis(200);
    int n = 50;
    a.context().runOnContext(v -> {
      for (int i = 1; i <= n; i++) {
        a.transport().send("b", vote("a", "b", 100 + i));
      }
    });
    List<Long> terms = new java.util.ArrayList<>();
    for (int i = 0; i < n; i++) {
      terms.add(b.next().term());
    }
    List<Long> sorted = terms.stream().sorted().toList();
    assertEquals(java.util.stream.LongStream.rangeClosed(101, 100 + n).boxed().toList(), sorted,
        "every message arrives once");
    assertTrue(!terms.equals(sorted), "arrived in order: " + terms);
    a.transport().clearFaults();
  }

  @Test
  void dropsRatherThanQueueingForAPeerThatDoesNotRead(Vertx vertx) throws Exception {
    Promise<NetSocket> accepted = Promise.promise();
    NetServer stuck = vertx.createNetServer(new NetServerOptions().setReceiveBufferSize(4096))
        .connectHandler(s -> {
          s.pause();
          accepted.tryComplete(s);
        });
    await(stuck.listen(portB, "127.0.0.1"));
    Node<TcpBridgeTransport> a = node("a", addresses, FAST.withWriteQueueMaxBytes(64 * 1024));
    await(accepted.future());

    byte[] data = new byte[256 * 1024];
    AppendEntriesRequest big = new AppendEntriesRequest(1, "a", "b", 0, 0,
        List.of(new LogEntry(1, 1, EntryType.COMMAND, 0, 0, 0, data)), 0, 0);
    AtomicInteger handedOver = new AtomicInteger();
    TransportMetrics metrics = a.transport().metrics();
    awaitCondition(vertx, "a full write queue", () -> {
      if (metrics.droppedQueueFull() > 0) {
        return true;
      }
      a.context().runOnContext(v -> {
        for (int i = 0; i < 8; i++) {
          a.transport().send("b", big);
          handedOver.incrementAndGet();
        }
      });
      return false;
    });
    assertTrue(metrics.sent() < handedOver.get(), metrics.toString());
    assertEquals(0, metrics.sendFailures());
    // Closing does not wait for the stuck peer to read what is still queued.
    await(a.transport().close());
  }

  @Test
  void followsAPeerToItsNewAddress() throws Exception {
    int deadPort = freePort();
    Node<TcpBridgeTransport> a = node("a",
        Map.of("a", "127.0.0.1:" + portA, "b", "127.0.0.1:" + deadPort), FAST);
    Node<TcpBridgeTransport> b = node("b");
    a.transport().updateAddresses(addresses);
    assertEquals(addresses, a.transport().addresses());
    sendUntilReceived(a, b, 1);

    assertThrows(IllegalArgumentException.class, () -> a.transport().updateAddresses(
        Map.of("a", "127.0.0.1:" + deadPort)));
    long droppedBefore = a.transport().metrics().droppedUnavailable();
    a.transport().updateAddresses(Map.of("a", "127.0.0.1:" + portA));
    a.send(vote("a", "b", 2));
    awaitCondition(a.transport().vertx, "b forgotten",
        () -> a.transport().metrics().droppedUnavailable() > droppedBefore);
  }

  @Test
  void framesAreBoundedByTheEntriesLimitAndPlainTcpWarnsOffLoopback() {
    assertEquals(3 * (4 * ((1000 + 2) / 3)) + TcpBridgeOptions.FRAME_OVERHEAD_BYTES,
        FAST.withMaxEntriesBytes(1000).maxFrameBytes());
    assertTrue(FAST.maxFrameBytes() > 3 * (RaftWire.DEFAULT_MAX_ENTRIES_BYTES * 4L / 3));
    assertEquals(Integer.MAX_VALUE - 8, FAST.withMaxEntriesBytes(Integer.MAX_VALUE).maxFrameBytes());
    for (String loopback : List.of("localhost", "127.0.0.1", "127.1.2.3", "::1",
        "0:0:0:0:0:0:0:1")) {
      assertTrue(TcpBridgeTransport.isLoopback(loopback), loopback);
    }
    for (String other : List.of("0.0.0.0", "10.0.0.1", "192.168.1.2", "node1.example",
        "::", "fe80::1", "127.example")) {
      assertTrue(!TcpBridgeTransport.isLoopback(other), other);
    }
  }

  @Test
  void refusesInvalidConfiguration(Vertx vertx) {
    assertThrows(IllegalArgumentException.class,
        () -> new TcpBridgeTransport(vertx, "c1", "a", Map.of("b", "127.0.0.1:1"), FAST));
    for (String bad : List.of("127.0.0.1", ":80", "host:", "host:x", "host:0", "host:70000")) {
      assertThrows(IllegalArgumentException.class,
          () -> new TcpBridgeTransport(vertx, "c1", "a", Map.of("a", bad), FAST), bad);
    }
    assertThrows(IllegalArgumentException.class, () -> FAST.withBackoffMillis(100, 10));
    assertThrows(IllegalArgumentException.class, () -> FAST.withConnectTimeoutMillis(0));
    assertThrows(IllegalArgumentException.class, () -> FAST.withWriteQueueMaxBytes(0));
  }

  @Test
  void failsToStartOnATakenPortAndReleasesEverything(Vertx vertx) throws Exception {
    try (ServerSocket squatter = new ServerSocket(portA, 1, InetAddress.getLoopbackAddress())) {
      TcpBridgeTransport a = new TcpBridgeTransport(vertx, "c1", "a", addresses, FAST);
      assertThrows(Exception.class, () -> await(a.start()));
      await(a.close());
      assertThrows(IllegalStateException.class, () -> await(a.start()));
    }
    // The consumer of the failed transport is gone: a new one can take the port and the address.
    Node<TcpBridgeTransport> a = start(vertx, new TcpBridgeTransport(vertx, "c1", "a", addresses, FAST));
    Node<TcpBridgeTransport> b = node("b");
    sendUntilReceived(b, a, 1);
  }
}
