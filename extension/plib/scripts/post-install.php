<?php

declare(strict_types=1);

// Makes the connector's data directory, readable by the panel's user only. Plesk runs this as
// root: the directory goes to the owner of the extension's var dir (the panel's user), and the
// service, when a backup started as root runs it, switches to that owner too.

pm_Context::init('gdrive-backup');

$service = Modules_GdriveBackup_ConnectorService::fromContext();
$service->makeDataDir();
chmod($service->dataDir, 0700);
