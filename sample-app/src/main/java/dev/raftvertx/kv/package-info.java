/** The sample application: a replicated key-value store on raft-vertx, with an HTTP API. */
package dev.raftvertx.kv;
