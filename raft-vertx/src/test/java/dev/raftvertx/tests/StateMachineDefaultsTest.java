package dev.raftvertx.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.raftvertx.StateMachine;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.streams.ReadStream;
import io.vertx.core.streams.WriteStream;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** A state machine that implements only apply and query refuses snapshots clearly. */
class StateMachineDefaultsTest {

  private final StateMachine applyOnly = new StateMachine() {
    @Override
    public Buffer apply(long index, Buffer command) {
      return command;
    }

    @Override
    public Buffer query(Buffer query) {
      return query;
    }
  };

  /** Records every call made on it. */
  private final List<String> calls = new ArrayList<>();

  private final WriteStream<Buffer> out = new WriteStream<>() {
    @Override
    public WriteStream<Buffer> exceptionHandler(Handler<Throwable> handler) {
      calls.add("exceptionHandler");
      return this;
    }

    @Override
    public Future<Void> write(Buffer data) {
      calls.add("write");
      return Future.succeededFuture();
    }

    @Override
    public Future<Void> end() {
      calls.add("end");
      return Future.succeededFuture();
    }

    @Override
    public WriteStream<Buffer> setWriteQueueMaxSize(int maxSize) {
      calls.add("setWriteQueueMaxSize");
      return this;
    }

    @Override
    public boolean writeQueueFull() {
      calls.add("writeQueueFull");
      return false;
    }

    @Override
    public WriteStream<Buffer> drainHandler(Handler<Void> handler) {
      calls.add("drainHandler");
      return this;
    }
  };

  private final ReadStream<Buffer> in = new ReadStream<>() {
    @Override
    public ReadStream<Buffer> exceptionHandler(Handler<Throwable> handler) {
      calls.add("exceptionHandler");
      return this;
    }

    @Override
    public ReadStream<Buffer> handler(Handler<Buffer> handler) {
      calls.add("handler");
      return this;
    }

    @Override
    public ReadStream<Buffer> pause() {
      calls.add("pause");
      return this;
    }

    @Override
    public ReadStream<Buffer> resume() {
      calls.add("resume");
      return this;
    }

    @Override
    public ReadStream<Buffer> fetch(long amount) {
      calls.add("fetch");
      return this;
    }

    @Override
    public ReadStream<Buffer> endHandler(Handler<Void> endHandler) {
      calls.add("endHandler");
      return this;
    }
  };

  @Test
  void snapshotFailsClearlyWithoutWriting() {
    Future<Void> f = applyOnly.snapshot(out);
    assertTrue(f.failed());
    assertInstanceOf(UnsupportedOperationException.class, f.cause());
    assertTrue(f.cause().getMessage().contains("this state machine does not support snapshots"),
        f.cause().getMessage());
    assertEquals(List.of(), calls);
  }

  @Test
  void restoreFailsClearlyWithoutReading() {
    Future<Void> f = applyOnly.restore(in);
    assertTrue(f.failed());
    assertInstanceOf(UnsupportedOperationException.class, f.cause());
    assertTrue(f.cause().getMessage().contains("this state machine does not support snapshots"),
        f.cause().getMessage());
    assertEquals(List.of(), calls);
  }
}
