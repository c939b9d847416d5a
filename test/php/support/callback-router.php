<?php

declare(strict_types=1);

// Router of `php -S` for CallbackPageTest: serves the extension's htdocs/public/oauth-callback.php
// on the fake Plesk runtime, settings from FAKE_PLESK_SETTINGS_FILE, like Plesk serves it
// under /modules/gdrive-backup/public/ (without a panel session).

require __DIR__ . '/runtime.php';

if (parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH) !== '/modules/gdrive-backup/public/oauth-callback.php') {
    http_response_code(404);
    return true;
}
require PLIB . '/../htdocs/public/oauth-callback.php';
