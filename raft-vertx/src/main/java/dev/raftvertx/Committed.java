package dev.raftvertx;

import io.vertx.core.buffer.Buffer;

/**
 * The outcome of a committed and applied command.
 *
 * @param index the log index the command was committed at
 * @param result what {@link StateMachine#apply} returned
 */
public record Committed(long index, Buffer result) {
}
