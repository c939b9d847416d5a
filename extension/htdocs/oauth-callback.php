<?php

declare(strict_types=1);

// The one OAuth redirect URI registered at Google for this panel: bounces Google's answer back
// to the storage settings page that asked for it (Modules_GdriveBackup_OAuthCallback).

if (!class_exists('pm_Context')) {
    require_once 'sdk.php';
}
pm_Context::init('gdrive-backup');

$result = (new Modules_GdriveBackup_OAuthCallback())->bounce($_GET);
if (isset($result['location'])) {
    header('Location: ' . $result['location'], true, 302);
    exit;
}
http_response_code($result['status']);
header('Content-Type: text/html; charset=utf-8');
echo '<!DOCTYPE html><html><head><meta charset="utf-8"><title>',
    htmlspecialchars(pm_Locale::lmsg('callback.title'), ENT_QUOTES), '</title></head><body><p>',
    htmlspecialchars($result['message'] ?? '', ENT_QUOTES), '</p><p><a href="/">',
    htmlspecialchars(pm_Locale::lmsg('callback.back'), ENT_QUOTES), '</a></p></body></html>';
