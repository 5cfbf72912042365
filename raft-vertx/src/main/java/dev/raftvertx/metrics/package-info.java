/**
 * Micrometer metrics of raft-vertx nodes: {@link dev.raftvertx.metrics.RaftMetrics} publishes a
 * node's counters, gauges and histograms, tagged with its node and cluster ids.
 */
package dev.raftvertx.metrics;
