<?php

declare(strict_types=1);

// Makes the connector's data directory, readable by the panel's user only. Plesk runs this as
// root: the directory goes to the owner of the extension's var dir (the panel's user), and the
// service, when a backup started as root runs it, switches to that owner too.
// On an upgrade a service of the previous version may still run the old bundle: it is stopped,
// and the next call starts the new one.

pm_Context::init('gdrive-backup');

$service = Modules_GdriveBackup_ConnectorService::fromContext();
if ($service->stop()) {
    pm_Log::info('Stopped the Google Drive connector of the previous version');
}
$service->makeDataDir();
chmod($service->dataDir, 0700);
