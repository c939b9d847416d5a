<?php

declare(strict_types=1);

// Stops the connector service the extension started. Its data (state, tokens, log) stays:
// removing the administrator's data is not this script's call.

pm_Context::init('gdrive-backup');

Modules_GdriveBackup_ConnectorService::fromContext()->stop();
