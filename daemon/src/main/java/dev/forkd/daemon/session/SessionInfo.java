package dev.forkd.daemon.session;

/** An open session as its owner sees it. */
public record SessionInfo(String id, String profile) {}
