package dev.raftvertx.impl.transport;

import dev.raftvertx.TlsOptions;

/**
 * Settings of a {@link TcpBridgeTransport}. Immutable; start from {@link #defaults()} and change
 * fields with the {@code with...} methods, which, like the constructor, throw
 * {@link IllegalArgumentException} for a value out of range.
 *
 * @param connectTimeoutMillis how long one connection attempt to a peer may take
 * @param initialBackoffMillis the pause before the first reconnection attempt after a failure;
 *     it doubles after each failed attempt (with random jitter of up to half) up to
 *     {@code maxBackoffMillis}, and resets once connected
 * @param maxBackoffMillis the longest pause between reconnection attempts
 * @param writeQueueMaxBytes bytes that may wait in a peer connection's write queue; a message
 *     sent while the queue is fuller than this is dropped
 * @param maxEntriesBytes the largest entries blob of one AppendEntriesRequest sent or accepted
 *     ({@link RaftWire}), and of every other byte field of a message; it also bounds the frames
 *     accepted ({@link #maxFrameBytes()})
 * @param tls TLS with mutual authentication for both the listening and the dialling side, or
 *     null for plain TCP; a copy is kept
 */
public record TcpBridgeOptions(int connectTimeoutMillis, long initialBackoffMillis,
    long maxBackoffMillis, int writeQueueMaxBytes, int maxEntriesBytes, TlsOptions tls) {

  /**
   * Most byte fields one message carries, each at most {@code maxEntriesBytes} ({@link RaftWire}
   * checks every one of them against that limit): the first SnapshotChunk of a transfer carries
   * its data, the configuration and the session table.
   */
  static final int MAX_BYTE_FIELDS_PER_MESSAGE = 3;

  /** Room in one frame for everything but its byte fields: the bridge envelope, other fields. */
  static final int FRAME_OVERHEAD_BYTES = 64 * 1024;

  private static final TcpBridgeOptions DEFAULTS =
      new TcpBridgeOptions(1000, 50, 2000, 4 << 20, RaftWire.DEFAULT_MAX_ENTRIES_BYTES, null);

  /**
   * Checks the values.
   *
   * @param connectTimeoutMillis at least 1
   * @param initialBackoffMillis at least 1
   * @param maxBackoffMillis at least initialBackoffMillis
   * @param writeQueueMaxBytes at least 1
   * @param maxEntriesBytes at least 4
   * @throws IllegalArgumentException if a value is out of range
   */
  public TcpBridgeOptions {
    if (connectTimeoutMillis < 1) {
      throw new IllegalArgumentException("connectTimeoutMillis must be >= 1: "
          + connectTimeoutMillis);
    }
    if (initialBackoffMillis < 1 || maxBackoffMillis < initialBackoffMillis) {
      throw new IllegalArgumentException("need 1 <= initialBackoffMillis <= maxBackoffMillis: "
          + initialBackoffMillis + ", " + maxBackoffMillis);
    }
    if (writeQueueMaxBytes < 1) {
      throw new IllegalArgumentException("writeQueueMaxBytes must be >= 1: " + writeQueueMaxBytes);
    }
    if (maxEntriesBytes < 4) {
      throw new IllegalArgumentException("maxEntriesBytes must be >= 4: " + maxEntriesBytes);
    }
    if (tls != null) {
      tls.validate();
      tls = new TlsOptions(tls);
    }
  }

  /** @return a copy of the TLS settings, or null for plain TCP */
  @Override
  public TlsOptions tls() {
    return tls == null ? null : new TlsOptions(tls);
  }

  /**
   * The longest frame a peer may send, length prefix excluded: room for the largest message the
   * wire format accepts, that is {@link #MAX_BYTE_FIELDS_PER_MESSAGE} byte fields of
   * {@code maxEntriesBytes} each as base64 text, plus {@link #FRAME_OVERHEAD_BYTES} (about
   * 256 MiB with the defaults). A longer (or negative) length prefix closes the connection before
   * anything is buffered. It must not be lower than a valid message, or that message would close
   * its connection again at every retry.
   *
   * @return the bound in bytes
   */
  public int maxFrameBytes() {
    long base64 = 4L * ((maxEntriesBytes + 2L) / 3);
    return (int) Math.min(Integer.MAX_VALUE - 8L,
        MAX_BYTE_FIELDS_PER_MESSAGE * base64 + FRAME_OVERHEAD_BYTES);
  }

  /**
   * @return the defaults: 1 s connect timeout, reconnection backoff from 50 ms up to 2 s, 4 MiB
   *     write queue per peer, 64 MiB entries per message
   */
  public static TcpBridgeOptions defaults() {
    return DEFAULTS;
  }

  /**
   * @param millis new connect timeout
   * @return a copy with it
   */
  public TcpBridgeOptions withConnectTimeoutMillis(int millis) {
    return new TcpBridgeOptions(millis, initialBackoffMillis, maxBackoffMillis,
        writeQueueMaxBytes, maxEntriesBytes, tls);
  }

  /**
   * @param initialMillis new initial backoff
   * @param maxMillis new maximum backoff
   * @return a copy with them
   */
  public TcpBridgeOptions withBackoffMillis(long initialMillis, long maxMillis) {
    return new TcpBridgeOptions(connectTimeoutMillis, initialMillis, maxMillis,
        writeQueueMaxBytes, maxEntriesBytes, tls);
  }

  /**
   * @param bytes new write queue bound
   * @return a copy with it
   */
  public TcpBridgeOptions withWriteQueueMaxBytes(int bytes) {
    return new TcpBridgeOptions(connectTimeoutMillis, initialBackoffMillis, maxBackoffMillis,
        bytes, maxEntriesBytes, tls);
  }

  /**
   * @param bytes new entries limit
   * @return a copy with it
   */
  public TcpBridgeOptions withMaxEntriesBytes(int bytes) {
    return new TcpBridgeOptions(connectTimeoutMillis, initialBackoffMillis, maxBackoffMillis,
        writeQueueMaxBytes, bytes, tls);
  }

  /**
   * @param tls TLS settings (validated and copied), or null for plain TCP
   * @return a copy with them
   * @throws IllegalArgumentException if the settings are incomplete ({@link TlsOptions#validate})
   */
  public TcpBridgeOptions withTls(TlsOptions tls) {
    return new TcpBridgeOptions(connectTimeoutMillis, initialBackoffMillis, maxBackoffMillis,
        writeQueueMaxBytes, maxEntriesBytes, tls);
  }
}
