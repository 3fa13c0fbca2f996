#!/usr/bin/env bash
# Installs the Debian tools of the ops tiers (`npm run test:ops`, `npm run test:image`), which `npm test`
# does not need:
#   promtool, prometheus             deploy/prometheus rules and their unit tests, dashboards against a real server
#   buildah, podman, debootstrap     building and running deploy/docker/Dockerfile without a Docker engine or registry
#   (+ runc, fuse-overlayfs, uidmap, slirp4netns: Debian's default runtime crun refuses this kind of
#    machine's hybrid cgroup v1/v2 layout, runc runs there)
# Run as root (or with sudo) on Debian 12:  scripts/ci/install-ops-tools.sh [prometheus|image|all]
# Installs only what is missing, so a second run costs a second.
set -euo pipefail

want="${1:-all}"
packages=()
need() { command -v "$1" >/dev/null 2>&1 || packages+=("$2"); }
if [[ "$want" == all || "$want" == prometheus ]]; then
  need promtool prometheus
  need prometheus prometheus
fi
if [[ "$want" == all || "$want" == image ]]; then
  need buildah buildah
  need podman podman
  need debootstrap debootstrap
  need runc runc
  need fuse-overlayfs fuse-overlayfs
  need newuidmap uidmap
  need slirp4netns slirp4netns
fi
if [[ ${#packages[@]} -eq 0 ]]; then
  echo "install-ops-tools: everything for '$want' is installed"
  exit 0
fi
mapfile -t packages < <(printf '%s\n' "${packages[@]}" | sort -u)
if [[ $(id -u) -ne 0 ]]; then
  echo "install-ops-tools: need root to install: ${packages[*]} (run it with sudo)" >&2
  exit 1
fi
echo "install-ops-tools: installing ${packages[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# policy-rc.d 101: the packages must not start their daemons (a prometheus on :9090 would collide with
# whatever a developer runs there); the tests start their own on free ports.
policy=/usr/sbin/policy-rc.d
made_policy=0
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && made_policy=1
fi
trap '[[ $made_policy == 1 ]] && rm -f "$policy"' EXIT
apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
echo "install-ops-tools: done"
