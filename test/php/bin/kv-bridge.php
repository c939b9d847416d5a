<?php
// Runs the extension's Key-Value Storage bridge (plib/scripts/kv.php) outside Plesk, on the fake
// pm_Settings: what `plesk ext gdrive-backup kv` does on a real server.
// Usage in tests: `php test/php/bin/kv-bridge.php` with FAKE_PLESK_SETTINGS_FILE set.

declare(strict_types=1);

require __DIR__ . '/../fake-plesk/pm_Settings.php';
require __DIR__ . '/../../../extension/plib/scripts/kv.php';
