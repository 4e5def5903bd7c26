/*
 * The zygote protocol's limits: the one definition that the C codec (frame.c), the Java codec
 * (dev.forkd.zygote.frame.ProtocolLimits reads this very file, packed into the zygote jar) and
 * the daemon's request validation all use. Keep one `#define NAME VALUEu` per line: the Java
 * side parses exactly that form and fails to load when a name is missing.
 *
 *   FRAME_MAX_PAYLOAD     bytes of one frame's payload, header excluded
 *   FRAME_MAX_STRING      bytes of a CWD, STEP or MESSAGE string
 *   FRAME_MAX_ARG_STRING  bytes of one ARGV or ENV string (the kernel's MAX_ARG_STRLEN)
 *   FRAME_MAX_ARGS        ARGV strings per SPAWN, and ENV strings
 *   FRAME_MAX_RLIMITS     RLIMIT fields per SPAWN
 *   FRAME_MAX_BPF_INSNS   instructions of SECCOMP_BPF (the kernel's BPF_MAXINSNS)
 *   FRAME_MAX_FILES       FILE per SPAWN, PATH per COLLECT, COLLECT_RESULT per COLLECTED
 *   FRAME_MAX_PATH        bytes of a FILE, PATH or COLLECT_RESULT path
 *   FRAME_MAX_PATH_PARTS  components of such a path
 *   FRAME_MAX_FDS         SCM_RIGHTS fds per message (the kernel's SCM_MAX_FD)
 *   FRAME_MAX_PIPE_FD     highest fd number a PIPE_FD of SPAWN may name (targets 3..this)
 */
#ifndef FORKD_FRAME_LIMITS_H
#define FORKD_FRAME_LIMITS_H

#define FRAME_MAX_PAYLOAD    1048576u
#define FRAME_MAX_STRING     65535u
#define FRAME_MAX_ARG_STRING 131072u
#define FRAME_MAX_ARGS       4096u
#define FRAME_MAX_RLIMITS    64u
#define FRAME_MAX_BPF_INSNS  4096u
#define FRAME_MAX_FILES      250u
#define FRAME_MAX_PATH       4096u
#define FRAME_MAX_PATH_PARTS 64u
#define FRAME_MAX_FDS        253u
#define FRAME_MAX_PIPE_FD    63u

#endif
