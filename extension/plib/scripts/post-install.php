<?php

declare(strict_types=1);

// Makes the connector's data directory, readable by the panel's user only.

pm_Context::init('google-drive-backup');

$dataDir = Modules_GoogleDriveBackup_ConnectorService::fromContext()->dataDir;
if (!is_dir($dataDir) && !mkdir($dataDir, 0700, true) && !is_dir($dataDir)) {
    throw new pm_Exception(pm_Locale::lmsg('connector.dataDirMissing', ['dir' => $dataDir]));
}
chmod($dataDir, 0700);
