package dev.raftvertx.impl.transport;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import dev.raftvertx.core.Message;
import dev.raftvertx.core.Message.VoteRequest;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.internal.ContextInternal;
import java.io.IOException;
import java.lang.reflect.RecordComponent;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/** Helpers shared by the transport tests. Blocking waits run on the JUnit thread only. */
final class TransportTestSupport {

  static final long WAIT_SECONDS = 20;

  private TransportTestSupport() {
  }

  /**
   * A node under test: its transport, the context that started it, what it received and on which
   * context (unwrapped from the duplicate Vert.x delivers on).
   */
  record Node<T extends AbstractTransport>(T transport, Context context,
      BlockingQueue<Message> inbox, BlockingQueue<Context> deliveryContexts) {

    /** Sends on the node's own context, as a Raft node would. */
    void send(Message message) {
      context.runOnContext(v -> transport.send(message.to(), message));
    }

    /** @return the next message received, failing the test if none comes in time */
    Message next() throws InterruptedException {
      Message m = inbox.poll(WAIT_SECONDS, TimeUnit.SECONDS);
      assertNotNull(m, transport.nodeId() + " received nothing; " + transport.metrics());
      return m;
    }
  }

  /** Starts a transport on a fresh context whose receiver records into the node's inbox. */
  static <T extends AbstractTransport> Node<T> start(Vertx vertx, T transport) {
    Context context = vertx.getOrCreateContext();
    BlockingQueue<Message> inbox = new LinkedBlockingQueue<>();
    BlockingQueue<Context> contexts = new LinkedBlockingQueue<>();
    transport.receiver(m -> {
      contexts.add(((ContextInternal) Vertx.currentContext()).unwrap());
      inbox.add(m);
    });
    Promise<Void> started = Promise.promise();
    context.runOnContext(v -> transport.start().onComplete(started));
    await(started.future());
    return new Node<>(transport, context, inbox, contexts);
  }

  static <T> T await(Future<T> future) {
    try {
      return future.await(WAIT_SECONDS, TimeUnit.SECONDS);
    } catch (java.util.concurrent.TimeoutException e) {
      throw new AssertionError("timed out", e);
    }
  }

  /** Waits for a condition set by event-loop threads, checking every 10 ms. */
  static void awaitCondition(Vertx vertx, String what, BooleanSupplier condition) {
    Promise<Void> done = Promise.promise();
    vertx.setPeriodic(10, id -> {
      if (condition.getAsBoolean()) {
        vertx.cancelTimer(id);
        done.tryComplete();
      }
    });
    try {
      done.future().await(WAIT_SECONDS, TimeUnit.SECONDS);
    } catch (java.util.concurrent.TimeoutException e) {
      throw new AssertionError("timed out waiting for " + what, e);
    }
  }

  /**
   * Asserts two messages are equal component by component, comparing byte arrays by content
   * (a record's own equals compares arrays by identity).
   */
  static void assertSameMessage(Message expected, Message actual) {
    assertNotNull(actual, "no message");
    assertEquals(expected.getClass(), actual.getClass());
    for (RecordComponent component : expected.getClass().getRecordComponents()) {
      try {
        Object e = component.getAccessor().invoke(expected);
        Object a = component.getAccessor().invoke(actual);
        if (e instanceof byte[] bytes) {
          assertArrayEquals(bytes, (byte[]) a, component.getName());
        } else {
          assertEquals(e, a, component.getName());
        }
      } catch (ReflectiveOperationException e) {
        throw new AssertionError(e);
      }
    }
  }

  /** A vote request from {@code from} to {@code to} whose term tells messages apart. */
  static VoteRequest vote(String from, String to, long term) {
    return new VoteRequest(term, from, to, 0, 0, false, false);
  }

  /** @return a loopback TCP port that was free a moment ago */
  static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return socket.getLocalPort();
    }
  }
}
