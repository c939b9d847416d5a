<?php

declare(strict_types=1);

// Makes the connector's data directory, readable by the panel's user only. Plesk runs this as
// root: the directory goes to the owner of the extension's var dir (the panel's user), and the
// service, when a backup started as root runs it, switches to that owner too.
// On an upgrade a service of the previous version may still run the old bundle: it is stopped,
// and the next call starts the new one.

pm_Context::init('gdrive-backup');

// The extension's code needs PHP 8.1 (meta.xml asks for a Plesk whose panel runs it): say so
// plainly on an older one. This file itself parses on older PHP.
if (PHP_VERSION_ID < 80100) {
    throw new pm_Exception('GDrive Backup Storage needs Plesk with PHP 8.1 or newer for its panel (this Plesk runs PHP ' . PHP_VERSION . '): update Plesk, then install the extension again.');
}

$service = Modules_GdriveBackup_ConnectorService::fromContext();
if ($service->stop()) {
    pm_Log::info('Stopped the Google Drive connector of the previous version');
}
$service->makeDataDir();
chmod($service->dataDir, 0700);
