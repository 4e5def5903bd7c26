/*
 * The zygote's namespace set-up: the user namespace handshake with the launcher, no nested user
 * namespaces, the check that the mount namespace is ours, the loopback of a new network
 * namespace. Each returns 0 or -1 (logged with log_fail).
 */
#ifndef FORKD_NS_H
#define FORKD_NS_H

#include "zygote.h"

int join_user_ns(const struct zygote_args *a);
int deny_user_namespaces(void);
int check_private_mount_ns(const struct zygote_args *a);
int loopback_up(void);

#endif
