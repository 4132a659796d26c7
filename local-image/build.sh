#!/usr/bin/env bash
# make local-image: a stand-in for public.ecr.aws/lambda/python:3.12-x86_64, built without any
# image registry, so that `sam local` runs the built functions on the Lambda runtime
# interface emulator (which SAM adds from its own wheel) on a machine that cannot pull images.
#
# 1. The Docker engine: used if it answers; else installed (Debian's docker.io) and started
#    (dockerd --iptables=false --ip-masq=false, default bridge kept: SAM publishes the
#    emulator's port on 127.0.0.1), as root or through sudo.
# 2. The image, only if no image has that name yet (a real AWS image is kept as it is):
#    a minimal Debian root file system (debootstrap --variant=minbase, plus the shared
#    libraries CPython needs), this machine's CPython 3.12 (the one functions/Makefile builds
#    with) in /var/lang as on Lambda, awslambdaric and boto3 (pinned, wheels) in /var/runtime,
#    the runtime's bootstrap and environment; imported with `docker import` (no Dockerfile,
#    no base image).
#
# Exit codes: 0 the image is there; 3 the engine cannot run here (no root nor sudo to install
# or start it, or dockerd does not start); 1 anything else.
# Environment: LOCAL_IMAGE (image name), LOCAL_IMAGE_REBUILD=1 (replace an existing image),
# DEBIAN_MIRROR, DEBIAN_SUITE, PYTHON (a python3.12).
set -euo pipefail

IMAGE="${LOCAL_IMAGE:-public.ecr.aws/lambda/python:3.12-x86_64}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DOCKERD_LOG=/var/log/creditscore-dockerd.log
# Shared libraries of CPython's extension modules that minbase lacks (ssl and hashlib,
# ctypes, sqlite3, pyexpat, curses, readline, uuid); zlib, bz2, lzma and libstdc++ (ONNX
# Runtime) are already in minbase.
RUNTIME_LIBRARIES=libssl3,libffi8,libsqlite3-0,libexpat1,libncursesw6,libreadline8,libuuid1

say() { echo "make local-image: $*" >&2; }

# ------------------------------------------------------------------ privileges

SUDO=()
rootfs=""
candidate=""
have_root() {
	if [ "$(id -u)" -eq 0 ]; then
		SUDO=()
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
		SUDO=(sudo)
	else
		return 1
	fi
}

# ------------------------------------------------------------------ the engine

engine_answers() { docker info >/dev/null 2>&1; }

start_engine() {
	if ! command -v docker >/dev/null 2>&1 || ! command -v dockerd >/dev/null 2>&1; then
		command -v apt-get >/dev/null 2>&1 || {
			say "no Docker engine and no apt-get to install one: install Docker, then run again"
			exit 3
		}
		say "installing Debian's docker.io"
		"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -q --no-install-recommends docker.io >/dev/null ||
			{ "${SUDO[@]}" apt-get update -q >/dev/null &&
				"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
					apt-get install -y -q --no-install-recommends docker.io >/dev/null; }
	fi
	engine_answers && return 0
	if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
		say "starting the docker service"
		"${SUDO[@]}" systemctl start docker || true
	else
		say "starting dockerd (log: $DOCKERD_LOG)"
		# setsid: the engine outlives this script and make; it keeps running for sam local.
		"${SUDO[@]}" sh -c "setsid dockerd --iptables=false --ip-masq=false \
			>>'$DOCKERD_LOG' 2>&1 </dev/null &"
	fi
	for _ in $(seq 60); do
		engine_answers && return 0
		sleep 1
	done
	say "the Docker engine did not start within 60 s; end of $DOCKERD_LOG:"
	"${SUDO[@]}" tail -n 15 "$DOCKERD_LOG" >&2 2>/dev/null || true
	exit 3
}

# ------------------------------------------------------------------ the image

find_python312() {
	local candidate
	for candidate in ${PYTHON:-} python3.12 "$HOME"/.pyenv/versions/3.12*/bin/python3.12; do
		if "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 12)' 2>/dev/null; then
			command -v "$candidate"
			return 0
		fi
	done
	say "no working python3.12 (PATH or ~/.pyenv/versions/3.12*): the Lambda runtime's version"
	exit 1
}

debian_suite() {
	# The copied CPython was linked on this machine: the image's glibc must be the same.
	local codename=""
	if [ -r /etc/os-release ]; then
		# shellcheck source=/dev/null
		codename="$(. /etc/os-release && [ "${ID:-}" = debian ] && echo "${VERSION_CODENAME:-}")" || true
	fi
	echo "${DEBIAN_SUITE:-${codename:-bookworm}}"
}

build_image() {
	local python suite
	python="$(find_python312)"
	suite="$(debian_suite)"
	if ! command -v debootstrap >/dev/null 2>&1; then
		say "installing debootstrap"
		"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -q --no-install-recommends debootstrap >/dev/null
	fi
	rootfs="$(mktemp -d "${TMPDIR:-/var/tmp}/creditscore-rootfs.XXXXXX")"
	# --one-file-system: never follow a mount left inside the root file system.
	trap '"${SUDO[@]}" rm -rf --one-file-system "$rootfs"; docker rmi "$candidate" >/dev/null 2>&1 || true' EXIT

	say "debootstrap $suite (minbase) from $MIRROR"
	"${SUDO[@]}" debootstrap --variant=minbase --include="$RUNTIME_LIBRARIES" \
		"$suite" "$rootfs" "$MIRROR" >"$rootfs.log" 2>&1 || {
		tail -n 20 "$rootfs.log" >&2
		rm -f "$rootfs.log"
		say "debootstrap failed"
		exit 1
	}
	rm -f "$rootfs.log"
	"${SUDO[@]}" rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
		"$rootfs"/usr/share/doc "$rootfs"/usr/share/man "$rootfs"/usr/share/info \
		"$rootfs"/usr/share/locale

	say "CPython $("$python" -c 'import platform; print(platform.python_version())') from $python -> /var/lang"
	local prefix libdir soname
	prefix="$("$python" -c 'import sys; print(sys.base_prefix)')"
	libdir="$("$python" -c 'import sysconfig; print(sysconfig.get_config_var("LIBDIR"))')"
	soname="$("$python" -c 'import sysconfig; print(sysconfig.get_config_var("INSTSONAME") or "")')"
	"${SUDO[@]}" mkdir -p "$rootfs/var/lang/bin" "$rootfs/var/lang/lib" "$rootfs/var/task" \
		"$rootfs/var/runtime" "$rootfs/opt"
	"${SUDO[@]}" cp "$prefix/bin/python3.12" "$rootfs/var/lang/bin/python3.12"
	"${SUDO[@]}" ln -s python3.12 "$rootfs/var/lang/bin/python3"
	"${SUDO[@]}" ln -s python3.12 "$rootfs/var/lang/bin/python"
	if [ -n "$soname" ] && [ -e "$libdir/$soname" ]; then
		"${SUDO[@]}" cp -L "$libdir/$soname" "$rootfs/var/lang/lib/$soname"
	fi
	# The standard library without its tests, Tk, IDLE, the static library and the
	# packages installed for this machine (site-packages starts empty, as on Lambda).
	tar -C "$prefix/lib" -c \
		--exclude=python3.12/test --exclude=python3.12/idlelib --exclude=python3.12/tkinter \
		--exclude=python3.12/turtledemo --exclude=python3.12/ensurepip \
		--exclude='python3.12/config-*' --exclude='python3.12/site-packages/*' \
		--exclude='_tkinter*.so' python3.12 |
		"${SUDO[@]}" tar -C "$rootfs/var/lang/lib" -x

	say "awslambdaric and boto3 -> /var/runtime"
	"${SUDO[@]}" "$python" -m pip install --quiet --disable-pip-version-check --no-deps \
		--require-hashes --only-binary=:all: --target "$rootfs/var/runtime" \
		-r "$HERE/runtime-requirements.txt"
	"${SUDO[@]}" rm -rf "$rootfs/var/runtime/bin"
	"${SUDO[@]}" install -m 0755 "$HERE/bootstrap" "$rootfs/var/runtime/bootstrap"

	say "docker import -> $IMAGE"
	# Imported under a temporary name, renamed once checked: never a half-made $IMAGE.
	candidate="$IMAGE-candidate"
	# The environment of AWS's python3.12 image (C.UTF-8: minbase generates no other locale).
	"${SUDO[@]}" tar --numeric-owner -C "$rootfs" -c . | docker import \
		--change 'ENV LANG=C.UTF-8' \
		--change 'ENV TZ=:UTC' \
		--change 'ENV PATH=/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin' \
		--change 'ENV LD_LIBRARY_PATH=/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib' \
		--change 'ENV LAMBDA_TASK_ROOT=/var/task' \
		--change 'ENV LAMBDA_RUNTIME_DIR=/var/runtime' \
		--change 'WORKDIR /var/task' \
		--change 'LABEL org.opencontainers.image.title="creditscore stand-in for the python3.12 Lambda base image"' \
		--message "make local-image (offline stand-in)" - "$candidate" >/dev/null

	say "checking the image"
	docker run --rm --entrypoint /var/lang/bin/python3.12 -e PYTHONPATH=/var/runtime "$candidate" \
		-c 'import ctypes, decimal, hashlib, lzma, sqlite3, ssl, zlib; import awslambdaric, boto3' ||
		{
			say "the new image cannot import the runtime's modules"
			exit 1
		}
	docker tag "$candidate" "$IMAGE"
}

# ------------------------------------------------------------------ main

if ! engine_answers; then
	have_root || {
		say "the Docker engine is not running (or not reachable by $(id -un)) and installing or" \
			"starting it needs root or sudo: as root, run make local-image again"
		exit 3
	}
	start_engine
fi

if docker image inspect "$IMAGE" >/dev/null 2>&1 && [ "${LOCAL_IMAGE_REBUILD:-0}" != 1 ]; then
	say "$IMAGE is present"
	exit 0
fi
have_root || {
	say "building $IMAGE needs root or sudo (debootstrap): as root, run make local-image again"
	exit 3
}
start_time=$SECONDS
build_image
say "$IMAGE built in $((SECONDS - start_time)) s"
