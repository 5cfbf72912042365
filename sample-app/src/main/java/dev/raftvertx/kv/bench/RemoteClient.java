package dev.raftvertx.kv.bench;

import dev.raftvertx.client.KvBinaryClient;
import dev.raftvertx.client.KvBinaryClientOptions;
import dev.raftvertx.client.KvClient;
import dev.raftvertx.client.KvClientOptions;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import java.util.function.BiFunction;
import java.util.function.Supplier;

/**
 * The remote load's client: {@link KvClient} over HTTP/1.1 or HTTP/2, or {@link KvBinaryClient}
 * over the binary protocol (the nodes' {@code --client-port}).
 */
interface RemoteClient {

  /** How the remote client talks to the nodes. */
  enum Protocol {
    /** HTTP/1.1 keep-alive connections ({@link KvClient}). */
    HTTP_1_1,
    /** HTTP/2, cleartext with prior knowledge ({@link KvClient}). */
    HTTP_2,
    /** The binary protocol, multiplexed over a few connections ({@link KvBinaryClient}). */
    BINARY
  }

  /**
   * @param key the key
   * @param value the value
   * @return completes once written
   */
  Future<?> put(String key, Buffer value);

  /**
   * @param key the key
   * @param stale a stale read instead of a linearizable one
   * @return the value
   */
  Future<?> get(String key, boolean stale);

  /** @return completes once closed */
  Future<Void> close();

  /**
   * A client for C operations in flight.
   *
   * @param vertx the bench's Vert.x
   * @param protocol the protocol
   * @param cluster the nodes
   * @param inFlight operations in flight (C)
   * @param connections connections to the leader, or 0 for the protocol's default: HTTP/1.1 a
   *     connection per operation in flight (a Vert.x HTTP/1.1 server answers a connection's
   *     pipelined requests one after another), HTTP/2 one per 100 streams (the server's default
   *     stream limit), the binary protocol one
   * @param token the key-value API's token, or null if the nodes require none
   * @return the client
   */
  static RemoteClient create(Vertx vertx, Protocol protocol, LocalCluster cluster, int inFlight,
      int connections, String token) {
    if (protocol == Protocol.BINARY) {
      KvBinaryClient c = KvBinaryClient.create(vertx, new KvBinaryClientOptions()
          .setEndpoints(cluster.clientEndpoints()).setToken(token)
          .setConnections(Math.max(1, connections))
          .setMaxInFlight(Math.max(inFlight, KvBinaryClientOptions.DEFAULT_MAX_IN_FLIGHT)));
      return of(c::put, c::get, c::close);
    }
    KvClientOptions.Protocol http = protocol == Protocol.HTTP_2
        ? KvClientOptions.Protocol.HTTP_2 : KvClientOptions.Protocol.HTTP_1_1;
    int n = connections > 0 ? connections
        : http == KvClientOptions.Protocol.HTTP_2 ? (inFlight + 99) / 100 : inFlight;
    KvClient c = KvClient.create(vertx, new KvClientOptions().setEndpoints(cluster.httpEndpoints())
        .setToken(token).setProtocol(http).setConnections(n)
        .setPipeliningLimit(Math.max(1, (inFlight + n - 1) / n)));
    return of(c::put, c::get, c::close);
  }

  /** A remote client from the three calls of a client library's client. */
  private static RemoteClient of(BiFunction<String, Buffer, Future<?>> put,
      BiFunction<String, Boolean, Future<?>> get, Supplier<Future<Void>> close) {
    return new RemoteClient() {
      @Override
      public Future<?> put(String key, Buffer value) {
        return put.apply(key, value);
      }

      @Override
      public Future<?> get(String key, boolean stale) {
        return get.apply(key, stale);
      }

      @Override
      public Future<Void> close() {
        return close.get();
      }
    };
  }
}
