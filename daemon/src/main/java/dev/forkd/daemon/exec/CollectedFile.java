package dev.forkd.daemon.exec;

/** A file collected after a run, or why it was not ({@code error} non-empty). */
public record CollectedFile(String path, byte[] content, long size, String error) {}
