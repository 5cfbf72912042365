package dev.raftvertx.kv;

import dev.raftvertx.StateMachine;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import java.util.HashMap;
import java.util.Map;

/**
 * The key-value state machine: a map from string keys to string values. Deterministic; runs on
 * the node's context only.
 *
 * <p>Results (JSON): put {@code {}}; delete {@code {"deleted": bool}}; compare-and-set
 * {@code {"swapped": bool, "current": value-or-null}} where current is the value before the
 * command. Queries are {@code {"key": k}} and answer {@code {"found": bool, "value": v}}.
 */
public final class KvStateMachine implements StateMachine {

  private final Map<String, String> data = new HashMap<>();

  @Override
  public Buffer apply(long index, Buffer command) {
    KvCommand c;
    try {
      c = KvCommand.decode(command);
    } catch (RuntimeException e) {
      // Only the HTTP layer proposes, with valid commands; a foreign command changes nothing.
      return new JsonObject().put("error", "malformed command").toBuffer();
    }
    if (c instanceof KvCommand.Put p) {
      data.put(p.key(), p.value());
      return new JsonObject().toBuffer();
    }
    if (c instanceof KvCommand.Delete d) {
      return new JsonObject().put("deleted", data.remove(d.key()) != null).toBuffer();
    }
    KvCommand.CompareAndSet cas = (KvCommand.CompareAndSet) c;
    String current = data.get(cas.key());
    boolean swap = java.util.Objects.equals(current, cas.expect());
    if (swap) {
      data.put(cas.key(), cas.value());
    }
    return new JsonObject().put("swapped", swap).put("current", current).toBuffer();
  }

  @Override
  public Buffer query(Buffer query) {
    String key = new JsonObject(query).getString("key");
    String value = data.get(key);
    return new JsonObject().put("found", value != null).put("value", value).toBuffer();
  }

  /** @return the number of keys */
  public int size() {
    return data.size();
  }

  /**
   * How the web UI labels an entry of the key-value log: {@code put k=v}, {@code delete k},
   * {@code cas k: old -> new}; other entries as the UI does by default.
   *
   * @param entry the entry, with the start of its payload
   * @return its label
   */
  public static String label(dev.raftvertx.LogEntryInfo entry) {
    if (!"command".equals(entry.type()) || !entry.complete()) {
      return dev.raftvertx.webui.WebUi.defaultLabel(entry);
    }
    KvCommand c;
    try {
      c = KvCommand.decode(entry.data());
    } catch (RuntimeException e) {
      return dev.raftvertx.webui.WebUi.defaultLabel(entry);
    }
    if (c instanceof KvCommand.Put p) {
      return "put " + p.key() + "=" + p.value();
    }
    if (c instanceof KvCommand.Delete d) {
      return "delete " + d.key();
    }
    KvCommand.CompareAndSet cas = (KvCommand.CompareAndSet) c;
    return "cas " + cas.key() + ": " + cas.expect() + " -> " + cas.value();
  }
}
