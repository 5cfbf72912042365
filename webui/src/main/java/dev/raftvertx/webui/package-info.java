/**
 * The web UI of raft-vertx: a live view of a cluster's nodes, logs, elections and throughput in
 * the browser, pushed over server-sent events, with token-protected admin actions. Mount it with
 * {@link dev.raftvertx.webui.WebUi#mount}.
 */
package dev.raftvertx.webui;
