package dev.raftvertx.impl.transport;

/**
 * An inbound message that does not follow the wire format: malformed, from another cluster, or
 * of an unknown version. The message is refused and counted; the connection stays up.
 */
public final class WireFormatException extends IllegalArgumentException {

  /** @param message what is wrong, naming the offending field */
  public WireFormatException(String message) {
    super(message);
  }

  /**
   * @param message what is wrong, naming the offending field
   * @param cause the underlying decoding error
   */
  public WireFormatException(String message, Throwable cause) {
    super(message, cause);
  }
}
