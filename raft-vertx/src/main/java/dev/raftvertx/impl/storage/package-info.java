/**
 * The file-based {@link dev.raftvertx.spi.RaftStorage}. Applications create a {@link
 * dev.raftvertx.impl.storage.FileRaftStorage} and use it through the SPI; {@link
 * dev.raftvertx.impl.storage.StorageFileSystem}, through which it does all its file access, exists
 * so that tests can inject faults. Everything else here is package-private.
 */
package dev.raftvertx.impl.storage;
