package dev.raftvertx.tests;

import dev.raftvertx.StateMachine;
import io.vertx.core.buffer.Buffer;
import java.util.HashMap;
import java.util.Map;

/** A tiny key-value state machine for tests: commands "key=value", queries "key". */
final class MapStateMachine implements StateMachine {

  final Map<String, String> data = new HashMap<>();
  int applied;

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
}
