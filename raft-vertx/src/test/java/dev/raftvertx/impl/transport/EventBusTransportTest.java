package dev.raftvertx.impl.transport;

import static dev.raftvertx.impl.transport.TransportTestSupport.await;
import static dev.raftvertx.impl.transport.TransportTestSupport.awaitCondition;
import static dev.raftvertx.impl.transport.TransportTestSupport.start;
import static dev.raftvertx.impl.transport.TransportTestSupport.vote;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.raftvertx.core.Message;
import dev.raftvertx.impl.transport.TransportTestSupport.Node;
import io.vertx.core.Vertx;
import io.vertx.junit5.Timeout;
import io.vertx.junit5.VertxExtension;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(VertxExtension.class)
@Timeout(value = 60, timeUnit = TimeUnit.SECONDS)
class EventBusTransportTest {

  private static Node<EventBusTransport> node(Vertx vertx, String id) {
    return start(vertx, new EventBusTransport(vertx, "c1", id));
  }

  @Test
  void deliversTheRecordItselfOnTheReceiversContext(Vertx vertx) throws Exception {
    Node<EventBusTransport> a = node(vertx, "a");
    Node<EventBusTransport> b = node(vertx, "b");
    Message m = vote("a", "b", 1);
    a.send(m);
    assertSame(m, b.next(), "the local codec passes the record through without a copy");
    assertSame(b.context(), b.deliveryContexts().take());
    assertEquals(1, a.transport().metrics().sent());
    assertEquals(1, b.transport().metrics().received());
  }

  @Test
  void refusesSendersTheNodeDoesNotAllow(Vertx vertx) throws Exception {
    Node<EventBusTransport> a = node(vertx, "a");
    Node<EventBusTransport> b = node(vertx, "b");
    Node<EventBusTransport> c = node(vertx, "c");
    b.transport().allowSenders(Set.of("a", "b")::contains);
    c.send(vote("c", "b", 1));
    awaitCondition(vertx, "refused", () -> b.transport().metrics().rejectedSender() == 1);
    assertEquals(1, b.transport().metrics().rejected());
    assertTrue(b.transport().metrics().lastRejection().contains("'c'"));
    a.send(vote("a", "b", 2));
    assertEquals(2, b.next().term(), "c's message never arrived, a's does");
    // a predicate that fails refuses rather than lets through
    b.transport().allowSenders(id -> {
      throw new IllegalStateException("no configuration");
    });
    a.send(vote("a", "b", 3));
    awaitCondition(vertx, "refused", () -> b.transport().metrics().rejectedSender() == 2);
    b.transport().allowSenders(null);
    c.send(vote("c", "b", 4));
    assertEquals(4, b.next().term(), "without a predicate every sender is accepted");
    assertEquals(2, b.transport().metrics().received());
  }

  @Test
  void carriesEveryMessageTypeInOrder(Vertx vertx) throws Exception {
    Node<EventBusTransport> a = node(vertx, "a");
    Node<EventBusTransport> b = node(vertx, "b");
    List<Message> samples = RaftWireTest.samples().stream()
        .filter(m -> m.from().equals("a") && m.to().equals("b")).toList();
    a.context().runOnContext(v -> samples.forEach(m -> a.transport().send("b", m)));
    for (Message expected : samples) {
      assertSame(expected, b.next());
    }
  }

  @Test
  void partitionDropsBothDirectionsAndHealRestores(Vertx vertx) throws Exception {
    Node<EventBusTransport> a = node(vertx, "a");
    Node<EventBusTransport> b = node(vertx, "b");
    a.transport().partition("b");
    assertEquals(Set.of("b"), a.transport().partitionedNodes());
    a.send(vote("a", "b", 1));
    b.send(vote("b", "a", 1));
    // a drops its own message to b on sending and b's message on receiving.
    awaitCondition(vertx, "both messages dropped",
        () -> a.transport().metrics().droppedByFaults() == 2);

    a.transport().heal("b");
    a.send(vote("a", "b", 2));
    b.send(vote("b", "a", 2));
    assertEquals(2, b.next().term(), "the partitioned message never arrived");
    assertEquals(2, a.next().term(), "the partitioned message never arrived");
  }

  @Test
  void partitioningItselfIsolatesANode(Vertx vertx) throws Exception {
    Node<EventBusTransport> a = node(vertx, "a");
    Node<EventBusTransport> b = node(vertx, "b");
    Node<EventBusTransport> c = node(vertx, "c");
    a.transport().partition("a");
    a.send(vote("a", "b", 1));
    c.send(vote("c", "a", 1));
    b.send(vote("b", "c", 1));
    assertEquals(1, c.next().term(), "b and c still talk");
    awaitCondition(vertx, "a dropped both", () -> a.transport().metrics().droppedByFaults() == 2);
    a.transport().clearFaults();
    a.send(vote("a", "b", 2));
    c.send(vote("c", "a", 2));
    assertEquals(2, b.next().term());
    assertEquals(2, a.next().term());
  }

  @Test
  void cutDropsOneDirectionOnly(Vertx vertx) throws Exception {
    Node<EventBusTransport> a = node(vertx, "a");
    Node<EventBusTransport> b = node(vertx, "b");
    a.transport().cut("a", "b");
    a.send(vote("a", "b", 1));
    b.send(vote("b", "a", 1));
    assertEquals(1, a.next().term(), "b to a still flows");
    a.transport().uncut("a", "b");
    a.send(vote("a", "b", 2));
    assertEquals(2, b.next().term(), "the cut message never arrived");
    assertEquals(1, a.transport().metrics().droppedByFaults());

    // A cut of the inbound direction is enforced on receipt.
    a.transport().cut("b", "a");
    b.send(vote("b", "a", 3));
    awaitCondition(vertx, "inbound cut", () -> a.transport().metrics().droppedByFaults() == 2);
    a.transport().uncut("b", "a");
    b.send(vote("b", "a", 4));
    assertEquals(4, a.next().term());
  }

  @Test
  void dropsTheRequestedFraction(Vertx vertx) {
    Node<EventBusTransport> a = node(vertx, "a");
    EventBusTransport t = a.transport();
    t.dropFraction(1);
    for (int i = 0; i < 100; i++) {
      t.send("b", vote("a", "b", i));
    }
    assertEquals(100, t.metrics().droppedByFaults());
    assertEquals(0, t.metrics().sent());
    t.dropFraction(0.5);
    for (int i = 0; i < 2000; i++) {
      t.send("b", vote("a", "b", i));
    }
    long dropped = t.metrics().droppedByFaults() - 100;
    assertTrue(dropped > 800 && dropped < 1200, "dropped " + dropped + " of 2000");
    assertEquals(2000 - dropped, t.metrics().sent());
    assertThrows(IllegalArgumentException.class, () -> t.dropFraction(1.5));
    assertThrows(IllegalArgumentException.class, () -> t.dropFraction(Double.NaN));
  }

  @Test
  void delaysMessages(Vertx vertx) throws Exception {
    Node<EventBusTransport> a = node(vertx, "a");
    Node<EventBusTransport> b = node(vertx, "b");
    a.transport().delayMillis(300);
    long before = System.nanoTime();
    a.send(vote("a", "b", 1));
    assertEquals(1, b.next().term());
    long elapsedMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - before);
    assertTrue(elapsedMillis >= 290, "arrived after " + elapsedMillis + " ms");
    assertThrows(IllegalArgumentException.class, () -> a.transport().delayMillis(-1));
  }

  @Test
  void duplicatesTheRequestedFraction(Vertx vertx) throws Exception {
    Node<EventBusTransport> a = node(vertx, "a");
    Node<EventBusTransport> b = node(vertx, "b");
    EventBusTransport t = a.transport();
    t.duplicateFraction(1);
    a.send(vote("a", "b", 1));
    assertSame(b.next(), b.next(), "the same message arrives twice");
    assertEquals(1, t.metrics().duplicatedByFaults());
    assertEquals(2, t.metrics().sent());

    t.duplicateFraction(0.5);
    a.context().runOnContext(v -> {
      for (int i = 0; i < 2000; i++) {
        t.send("b", vote("a", "b", 2));
      }
    });
    awaitCondition(vertx, "every copy received", () -> t.metrics().sent() >= 2 + 2000
        && b.transport().metrics().received() == t.metrics().sent());
    long duplicated = t.metrics().duplicatedByFaults() - 1;
    assertTrue(duplicated > 800 && duplicated < 1200, "duplicated " + duplicated + " of 2000");
    assertEquals(2 + 2000 + duplicated, t.metrics().sent());

    // a copy goes through the drop fraction like the original: with every message dropped,
    // nothing is duplicated
    t.dropFraction(1);
    t.send("b", vote("a", "b", 3));
    assertEquals(duplicated + 1, t.metrics().duplicatedByFaults());
    t.clearFaults();
    long received = b.transport().metrics().received(); // before the send: it may arrive at once
    a.send(vote("a", "b", 4));
    assertEquals(4, drainUntilTerm(b, 4).term());
    Thread.sleep(100);
    assertEquals(received + 1, b.transport().metrics().received(), "cleared: sent once");
    assertThrows(IllegalArgumentException.class, () -> t.duplicateFraction(-0.1));
    assertThrows(IllegalArgumentException.class, () -> t.duplicateFraction(Double.NaN));
  }

  private static Message drainUntilTerm(Node<EventBusTransport> node, long term)
      throws InterruptedException {
    Message m;
    do {
      m = node.next();
    } while (m.term() != term);
    return m;
  }

  @Test
  void jitterReordersMessages(Vertx vertx) throws Exception {
    Node<EventBusTransport> a = node(vertx, "a");
    Node<EventBusTransport> b = node(vertx, "b");
    a.transport().delayJitterMillis(200);
    int n = 50;
    long before = System.nanoTime();
    a.context().runOnContext(v -> {
      for (int i = 1; i <= n; i++) {
        a.transport().send("b", vote("a", "b", i));
      }
    });
    List<Long> terms = new java.util.ArrayList<>();
    for (int i = 0; i < n; i++) {
      terms.add(b.next().term());
    }
    long elapsedMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - before);
    assertEquals(java.util.stream.LongStream.rangeClosed(1, n).boxed().toList(),
        terms.stream().sorted().toList(), "every message arrives once");
    // 50 independent uniform delays in [0, 200] ms all in sending order: odds 1 in 50!
    assertTrue(!terms.equals(terms.stream().sorted().toList()), "arrived in order: " + terms);
    assertTrue(elapsedMillis <= 200 + 5_000, "arrived after " + elapsedMillis + " ms");

    // the jitter adds to the fixed delay
    a.transport().delayMillis(200);
    a.transport().delayJitterMillis(100);
    before = System.nanoTime();
    a.send(vote("a", "b", 100));
    assertEquals(100, b.next().term());
    elapsedMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - before);
    assertTrue(elapsedMillis >= 190, "arrived after " + elapsedMillis + " ms");

    a.transport().clearFaults();
    a.context().runOnContext(v -> {
      for (int i = 1; i <= n; i++) {
        a.transport().send("b", vote("a", "b", 1000 + i));
      }
    });
    for (int i = 1; i <= n; i++) {
      assertEquals(1000 + i, b.next().term(), "cleared: in order again");
    }
    assertThrows(IllegalArgumentException.class, () -> a.transport().delayJitterMillis(-1));
  }

  @Test
  void sendNeverThrows(Vertx vertx) {
    EventBusTransport t = new EventBusTransport(vertx, "c1", "a");
    assertDoesNotThrow(() -> t.send("b", vote("a", "b", 1)));
    assertEquals(1, t.metrics().droppedUnavailable(), "not started");
    start(vertx, t);
    assertDoesNotThrow(() -> t.send("c", vote("a", "b", 1)));
    assertDoesNotThrow(() -> t.send("b", vote("x", "b", 1)));
    assertDoesNotThrow(() -> t.send("b", null));
    assertDoesNotThrow(() -> t.send(null, vote("a", "b", 1)));
    assertEquals(4, t.metrics().sendFailures(), "mis-addressed");
    assertDoesNotThrow(() -> t.send("nobody", vote("a", "nobody", 1)));
    assertEquals(1, t.metrics().sent(), "a node nobody consumes loses the message silently");
    await(t.close());
    assertDoesNotThrow(() -> t.send("b", vote("a", "b", 1)));
    assertEquals(2, t.metrics().droppedUnavailable(), "closed");
  }

  @Test
  void refusesForeignBodiesOnItsAddress(Vertx vertx) throws Exception {
    Node<EventBusTransport> a = node(vertx, "a");
    Node<EventBusTransport> b = node(vertx, "b");
    vertx.eventBus().send(RaftWire.rpcAddress("c1", "b"), "not a raft message");
    awaitCondition(vertx, "rejection", () -> b.transport().metrics().rejected() == 1);
    assertTrue(b.transport().metrics().lastRejection().contains("java.lang.String"));
    // A record addressed to another node that reached b's address anyway is refused too.
    LocalMessageCodec.ensureRegistered(vertx);
    vertx.eventBus().send(RaftWire.rpcAddress("c1", "b"), vote("a", "c", 1),
        new io.vertx.core.eventbus.DeliveryOptions().setCodecName(LocalMessageCodec.NAME));
    awaitCondition(vertx, "rejection", () -> b.transport().metrics().rejected() == 2);
    a.send(vote("a", "b", 7));
    assertEquals(7, b.next().term());
    assertEquals(1, b.transport().metrics().received());
  }

  @Test
  void clustersSharingOneVertxDoNotMix(Vertx vertx) throws Exception {
    Node<EventBusTransport> a1 = start(vertx, new EventBusTransport(vertx, "one", "a"));
    Node<EventBusTransport> b1 = start(vertx, new EventBusTransport(vertx, "one", "b"));
    Node<EventBusTransport> b2 = start(vertx, new EventBusTransport(vertx, "two", "b"));
    a1.send(vote("a", "b", 1));
    assertEquals(1, b1.next().term());
    assertTrue(b2.inbox().isEmpty());
    assertEquals(0, b2.transport().metrics().received());
  }

  @Test
  void codecRegistrationIsGuardedAndLifecycleIsChecked(Vertx vertx) {
    LocalMessageCodec.ensureRegistered(vertx);
    LocalMessageCodec.ensureRegistered(vertx);
    EventBusTransport t = new EventBusTransport(vertx, "c1", "a");
    await(t.start());
    assertThrows(IllegalStateException.class, () -> await(t.start()));
    Vertx other = Vertx.vertx();
    try {
      await(new EventBusTransport(other, "c1", "a").start());
    } finally {
      await(other.close());
    }
    assertSame(t.close(), t.close(), "close is idempotent");
    await(t.close());
    assertThrows(IllegalStateException.class, () -> await(t.start()));
    assertThrows(IllegalArgumentException.class, () -> new EventBusTransport(vertx, "c.1", "a"));
    assertThrows(IllegalArgumentException.class, () -> new EventBusTransport(vertx, "c1", ""));
  }
}
