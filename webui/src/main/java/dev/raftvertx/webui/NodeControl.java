package dev.raftvertx.webui;

import dev.raftvertx.RaftNode;
import io.vertx.core.Future;

/**
 * Stops and starts the nodes of an embedded cluster, for the web UI's stop, restart and add-node
 * buttons.
 * The application implements it, since it owns whatever fronts a node (an HTTP server, say) and
 * knows how to deploy the node again with its data directory. Give it to
 * {@link WebUi#nodeControl(NodeControl)}; without one the UI offers no stop and restart.
 */
public interface NodeControl {

  /**
   * Stops a running node as a crash would look to the others: it stops answering.
   *
   * @param nodeId the node
   * @return completes once the node is stopped, or fails (unknown or not running node)
   */
  Future<Void> stop(String nodeId);

  /**
   * Starts a stopped node again (it recovers its log from its data directory), or, for the UI's
   * "add node", a node that is not a member yet: it starts empty and waits to be added
   * ({@link dev.raftvertx.RaftOptions#setJoin}), which the UI then asks the leader to do.
   *
   * @param nodeId the node
   * @return completes with the running node, or fails (unknown or already running node)
   */
  Future<RaftNode> start(String nodeId);
}
