package dev.raftvertx.tests;

import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import io.vertx.core.streams.ReadStream;
import io.vertx.core.streams.WriteStream;
import dev.raftvertx.StateMachine;
import io.vertx.core.buffer.Buffer;
import java.util.HashMap;
import java.util.Map;

/** A tiny key-value state machine for tests: commands "key=value", queries "key". */
final class MapStateMachine implements StateMachine {

  final Map<String, String> data = new HashMap<>();
  int applied;
  /** Snapshots restored into this machine. */
  int restores;

  @Override
  public Buffer apply(long index, Buffer command) {
    String c = command.toString();
    int eq = c.indexOf('=');
    String previous = data.put(c.substring(0, eq), c.substring(eq + 1));
    applied++;
    return Buffer.buffer(previous == null ? "" : previous);
  }

  @Override
  public Buffer query(Buffer query) {
    String v = data.get(query.toString());
    return Buffer.buffer(v == null ? "<none>" : v);
  }

  /**
   * Writes a copy of the map taken now (the consistent cut) as JSON, in 512-byte chunks, one per
   * event-loop turn, respecting the stream's back-pressure.
   */
  @Override
  public Future<Void> snapshot(WriteStream<Buffer> out) {
    byte[] bytes = new JsonObject(new java.util.TreeMap<>(data)).encode()
        .getBytes(java.nio.charset.StandardCharsets.UTF_8);
    io.vertx.core.Promise<Void> done = io.vertx.core.Promise.promise();
    io.vertx.core.Context context = io.vertx.core.Vertx.currentContext();
    writeFrom(out, bytes, 0, context, done);
    return done.future();
  }

  private static void writeFrom(WriteStream<Buffer> out, byte[] bytes, int offset,
      io.vertx.core.Context context, io.vertx.core.Promise<Void> done) {
    if (offset >= bytes.length) {
      out.write(Buffer.buffer()).onComplete(done);
      return;
    }
    int end = Math.min(bytes.length, offset + 512);
    out.write(Buffer.buffer(java.util.Arrays.copyOfRange(bytes, offset, end))).onFailure(done::tryFail);
    if (out.writeQueueFull()) {
      out.drainHandler(v -> writeFrom(out, bytes, end, context, done));
    } else {
      context.runOnContext(v -> writeFrom(out, bytes, end, context, done));
    }
  }

  /** Reads the JSON aside and swaps it in only at the end. */
  @Override
  public Future<Void> restore(ReadStream<Buffer> in) {
    io.vertx.core.Promise<Void> done = io.vertx.core.Promise.promise();
    Buffer all = Buffer.buffer();
    in.exceptionHandler(done::tryFail);
    in.endHandler(v -> {
      try {
        JsonObject json = all.length() == 0 ? new JsonObject() : new JsonObject(all);
        data.clear();
        json.forEach(e -> data.put(e.getKey(), (String) e.getValue()));
        restores++;
        done.tryComplete();
      } catch (RuntimeException e) {
        done.tryFail(e);
      }
    });
    in.handler(all::appendBuffer); // starts the flow
    return done.future();
  }
}
