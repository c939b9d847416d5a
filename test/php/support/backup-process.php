<?php

declare(strict_types=1);

// A backup run by Plesk in its own PHP process (as root, like Plesk's backup), sharing the panel's
// pm_Settings (FAKE_PLESK_SETTINGS_FILE) and the connector: writes one file through the hook as
// Plesk does and prints its stat() as JSON.
//   php backup-process.php <varDir> <type> <id> <remote path> <local file>

require __DIR__ . '/runtime.php';

[, $varDir, $type, $id, $remote, $local] = $argv;
pm_Context::$varDir = $varDir;
$hook = new Modules_GdriveBackup_Backup_Transport();
$hook->init($type, (int) $id);
$fd = $hook->openFileWrite($remote);
$hook->appendFile($fd, $local);
$hook->closeFile($fd);
echo json_encode($hook->stat($remote)), "\n";
