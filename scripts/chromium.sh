#!/bin/sh
# Debian's chromium for the browser tests (tests/browser), which drive it through Playwright:
# Playwright never downloads a browser of its own here. Run by `make test` and `make browser`.
# When it is missing: installed with apt-get as root, or with `sudo -n` when sudo needs no
# password; otherwise this says how, and tests/browser skips, saying the same.
set -u
chromium="${CHROMIUM_EXECUTABLE:-/usr/bin/chromium}"
[ -x "$chromium" ] && exit 0

how="install Debian's chromium (sudo apt-get install chromium) to run tests/browser"
if [ "$chromium" != /usr/bin/chromium ]; then
	echo "no chromium at CHROMIUM_EXECUTABLE=$chromium: tests/browser will be skipped"
	exit 0
fi
if [ "$(id -u)" = 0 ]; then
	as_root=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
	as_root="sudo -n"
else
	echo "no /usr/bin/chromium and no root or password-less sudo: tests/browser will be skipped;"
	echo "  $how"
	exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
	echo "no /usr/bin/chromium and no apt-get: tests/browser will be skipped; $how"
	exit 0
fi
echo "installing Debian's chromium for tests/browser (apt-get install chromium)"
# A fresh machine may have no package lists yet: update first.
if $as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
	$as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; then
	exit 0
fi
echo "apt-get could not install chromium: tests/browser will be skipped; $how"
exit 0
