package dev.raftvertx.tests;

import dev.raftvertx.RaftOptions;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The integration suite over the local event bus. */
class EventBusClusterTest extends ClusterTestBase {

  @Override
  Map<String, String> addresses(List<String> ids) {
    Map<String, String> m = new LinkedHashMap<>();
    ids.forEach(id -> m.put(id, "local"));
    return m;
  }

  @Override
  RaftOptions.TransportKind transport() {
    return RaftOptions.TransportKind.EVENT_BUS;
  }
}
