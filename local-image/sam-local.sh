#!/usr/bin/env bash
# Runs a `sam local` command (start-api, invoke) on a built SAM application with ONE local
# store shared by the three functions, writable (the client function records decisions).
#
#   local-image/sam-local.sh [--build] APP_DIR STORE SUBCOMMAND [sam local options...]
#   e.g. local-image/sam-local.sh --build build/sam-local/app build/store start-api
#
# APP_DIR is a `sam build` output folder (--build makes it first); STORE a published local
# store (models/ + store.sqlite). The settings come from samconfig.toml's `local` sections
# (events/env/sam-local*.json); API_TOKEN comes from the environment (make sam-local reads .env).
#
# Why a mount: SAM mounts each function's folder read-only at /var/task and nothing else from
# the host, while SQLite in WAL mode writes (the database, its -wal and -shm files) even to
# read. The store is bind-mounted (as root) at <function folder>/.local-store for the run:
# inside the containers /var/task/.local-store is then the same writable folder for the three
# functions, one SQLite database shared through the same kernel, nothing copied, nothing lost.
# A read-only bind mount leaves the mounts below it writable when the client speaks Docker
# API < 1.44 (SAM CLI asks for 1.35); Docker Engine >= 29 refuses that and makes them
# read-only: decisions then fail (README, "sam local"). The mounts are removed on exit.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SAM="${SAM:-$REPO/.venv-sam/bin/sam}"
MOUNT_NAME=.local-store
#: The label of make local-image's stand-in (local-image/build.sh), which SAM's images inherit.
STAND_IN_LABEL="org.opencontainers.image.title=creditscore stand-in for the python3.12 Lambda base image"

say() { echo "sam-local: $*" >&2; }
usage() {
	say "usage: $0 [--build] APP_DIR STORE SUBCOMMAND [sam local options...]"
	exit 2
}

build=0
if [ "${1:-}" = --build ]; then
	build=1
	shift
fi
[ $# -ge 3 ] || usage
app_dir="$(realpath -m "$1")"
store="$(realpath -m "$2")"
shift 2

[ -f "$store/models/active" ] || {
	say "$store is not a published local store (no models/active): run make demo first" \
		"(its generate, train and publish steps), or give a published store"
	exit 1
}
[ -n "${API_TOKEN:-}" ] || {
	say "API_TOKEN is empty: make env writes one to .env (make sam-local reads it)"
	exit 1
}
if [ "$(id -u)" -eq 0 ]; then
	SUDO=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
	SUDO=(sudo)
else
	say "mounting the store into the functions' folders needs root or sudo"
	exit 1
fi

mount_points() {
	# Every function folder of the build (the ones with an app.py) gets the store.
	local app
	for app in "$app_dir"/*/app.py; do
		[ -e "$app" ] && echo "$(dirname "$app")/$MOUNT_NAME"
	done
	return 0
}

unmount_all() {
	local point
	while read -r point; do
		if mountpoint -q "$point"; then
			"${SUDO[@]}" umount "$point" 2>/dev/null || "${SUDO[@]}" umount -l "$point"
		fi
	done < <(mount_points)
}

# shellcheck disable=SC2329 # called by the EXIT trap
cleanup() {
	unmount_all
	# SAM builds the image with the layer again at every start and leaves the previous one
	# untagged: drop those made from the stand-in (its label; images in use are kept).
	docker image prune --force --filter "label=$STAND_IN_LABEL" >/dev/null 2>&1 || true
}

# A mount left by a killed run must go before anything deletes the build folder: `sam build`
# (and rm -rf) would otherwise delete the store's files through it.
unmount_all
trap cleanup EXIT

cd "$REPO"
if [ "$build" -eq 1 ]; then
	"$SAM" build --config-file "$REPO/samconfig.toml" --config-env local --build-dir "$app_dir"
fi
[ -f "$app_dir/template.yaml" ] || {
	say "$app_dir/template.yaml does not exist: build first (--build)"
	exit 1
}

points="$(mount_points)"
[ -n "$points" ] || {
	say "no function folder (*/app.py) in $app_dir"
	exit 1
}
while read -r point; do
	mkdir -p "$point"
	"${SUDO[@]}" mount --bind "$store" "$point"
done <<<"$points"
say "store $store mounted at /var/task/$MOUNT_NAME in every function"

# sam runs as a child (not exec) so that the mounts are removed after it stops, in a session
# of its own so that it gets exactly one SIGTERM (a second one, from Ctrl-C or a signal sent
# to the whole group, would cut short its removal of the warm containers).
setsid "$SAM" local "$@" --template "$app_dir/template.yaml" \
	--config-file "$REPO/samconfig.toml" --config-env local &
sam_pid=$!
trap 'kill -TERM "$sam_pid" 2>/dev/null || true' INT TERM
status=0
wait "$sam_pid" || status=$?
# A signal interrupts the first wait: wait again for sam to finish stopping its containers.
wait "$sam_pid" 2>/dev/null || true
exit "$status"
