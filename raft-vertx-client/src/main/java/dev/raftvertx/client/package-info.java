/**
 * A client of the sample key-value store's HTTP API ({@link dev.raftvertx.client.KvClient}):
 * it finds the leader through {@code GET /status}, keeps a few keep-alive connections to it and
 * retries what the cluster says was not applied.
 */
package dev.raftvertx.client;
