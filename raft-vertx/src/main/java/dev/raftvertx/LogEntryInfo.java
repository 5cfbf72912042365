package dev.raftvertx;

import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import java.util.Objects;

/**
 * What a status page shows of one log entry: its position, its kind and the start of its payload.
 * Returned by {@link RaftNode#logTail(int, int)}.
 *
 * @param index the entry's log index
 * @param term the term it was created in
 * @param type "command", "noop", "config" or "session_open"
 * @param dataLength the payload's full length in bytes
 * @param data the payload's first bytes (at most the requested number; a copy)
 */
public record LogEntryInfo(long index, long term, String type, int dataLength, Buffer data) {

  /**
   * Checks the fields.
   *
   * @throws NullPointerException if type or data is null
   */
  public LogEntryInfo {
    Objects.requireNonNull(type, "type");
    Objects.requireNonNull(data, "data");
  }

  /** @return true if {@link #data()} holds the whole payload */
  public boolean complete() {
    return data.length() == dataLength;
  }

  /** @return index, term, type and data length as JSON (the payload is left out) */
  public JsonObject toJson() {
    return new JsonObject().put("index", index).put("term", term).put("type", type)
        .put("dataLength", dataLength);
  }
}
