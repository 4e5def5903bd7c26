/**
 * Operating the daemon: systemd notification and socket activation, TCP and TLS listeners, peer
 * identity and per-profile authorization, Prometheus metrics, run logs, configuration of these, and
 * orderly shutdown on SIGTERM. The gRPC glue (interceptors, negotiator, channel factory) is thin;
 * the decisions ({@link dev.forkd.daemon.ops.AccessPolicy}, {@link dev.forkd.daemon.ops.RunLog},
 * {@link dev.forkd.daemon.ops.OpsConfig}) are plain classes tested without gRPC.
 */
package dev.forkd.daemon.ops;
