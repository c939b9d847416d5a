<?php

declare(strict_types=1);

// The one OAuth redirect URI registered at Google for this panel: bounces Google's answer back
// to the storage settings page that asked for it (Modules_GdriveBackup_OAuthCallback).
// It lives in htdocs/public/ because Plesk serves the rest of htdocs/ only inside a panel
// session, and Google's redirect may arrive on another host name than the admin's session.
// Nothing here trusts the visitor: only a state this panel handed out, once, leads anywhere.

if (!class_exists('pm_Context')) {
    require_once 'sdk.php';
}
pm_Context::init('gdrive-backup');
header('Cache-Control: no-store');
header('Referrer-Policy: no-referrer');

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
