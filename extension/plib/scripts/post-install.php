<?php

declare(strict_types=1);

// Makes the connector's data directory, readable by the panel's user only. Plesk runs this as
// root: the directory goes to the owner of the extension's var dir (the panel's user), and the
// service, when a backup started as root runs it, switches to that owner too.

pm_Context::init('google-drive-backup');

$dataDir = Modules_GoogleDriveBackup_ConnectorService::fromContext()->dataDir;
if (!is_dir($dataDir) && !mkdir($dataDir, 0700, true) && !is_dir($dataDir)) {
    throw new pm_Exception(pm_Locale::lmsg('connector.dataDirMissing', ['dir' => $dataDir]));
}
chmod($dataDir, 0700);
$owner = fileowner(pm_Context::getVarDir());
if (function_exists('posix_geteuid') && posix_geteuid() === 0 && $owner !== false && $owner !== 0) {
    chown($dataDir, $owner);
    chgrp($dataDir, (int) filegroup(pm_Context::getVarDir()));
}
