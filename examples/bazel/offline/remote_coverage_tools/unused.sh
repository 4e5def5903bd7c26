#!/bin/sh
echo "coverage is not collected in this workspace" >&2
exit 1
