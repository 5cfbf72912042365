package dev.raftvertx.tests;

import dev.raftvertx.RaftOptions;
import java.io.IOException;
import java.net.ServerSocket;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The integration suite over the TCP event-bus bridge on 127.0.0.1. */
class TcpBridgeClusterTest extends ClusterTestBase {

  @Override
  Map<String, String> addresses(List<String> ids) {
    Map<String, String> m = new LinkedHashMap<>();
    ids.forEach(id -> m.put(id, "127.0.0.1:" + freePort()));
    return m;
  }

  @Override
  RaftOptions.TransportKind transport() {
    return RaftOptions.TransportKind.TCP;
  }

  static int freePort() {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }
}
