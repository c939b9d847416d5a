#!/usr/bin/env bash
# `php -l` over every PHP file of the extension and its tests.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v php >/dev/null; then
  echo "php-lint: PHP is missing: run apt-get install -y php-cli php-curl php-xml phpunit" >&2
  exit 1
fi
status=0
while IFS= read -r -d '' file; do
  php -l "$file" >/dev/null || status=1
done < <(find extension test/php -name '*.php' -print0 2>/dev/null)
exit $status
