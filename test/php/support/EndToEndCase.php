<?php

declare(strict_types=1);

use PHPUnit\Framework\TestCase;

/**
 * The extension against the real connector service and the real sandbox: one sandbox and one
 * connector data dir for the class; the connector is started by the extension's own client
 * (ConnectorService) with the sandbox's endpoints in its environment, the OAuth client the
 * admin stored in pm_Settings, and its refresh tokens in the (fake, really encrypting) Plesk
 * Key-Value Storage, handed to the connector's memory over the socket (secrets store `client`).
 * The settings live in a file, so a second PHP process (a backup) sees what the panel stored.
 */
abstract class EndToEndCase extends TestCase
{
    protected static Sandbox $sandbox;
    protected static string $root;
    protected static string $settingsFile;

    public static function setUpBeforeClass(): void
    {
        self::$root = PleskTestCase::tempDir('e2e');
        self::$settingsFile = self::$root . '/settings.json';
        self::$sandbox = new Sandbox();
        self::applyEnvironment();
        pm_Settings::fakeReset();
        // What the server administrator does once on the extension page.
        pm_Settings::set('client-id', self::$sandbox->env['GDRIVE_CLIENT_ID']);
        pm_Settings::setEncrypted('client-secret', self::$sandbox->env['GDRIVE_CLIENT_SECRET']);
        pm_Settings::set('callback-url', Sandbox::CALLBACK_URL);
        // Where this checkout keeps what the package puts in plib/connector/.
        pm_Settings::set('connector-bundle', PROJECT_ROOT . '/dist/gdrive-backup.mjs');
        pm_Settings::set('node-binary', Sandbox::node());
    }

    public static function tearDownAfterClass(): void
    {
        self::applyEnvironment();
        $service = Modules_GdriveBackup_ConnectorService::fromContext();
        $pid = (int) @file_get_contents($service->pidPath());
        require PLIB . '/scripts/pre-uninstall.php';
        for ($i = 0; $i < 100 && $pid > 0 && is_file("/proc/$pid/stat"); $i++) {
            usleep(50_000);
        }
        self::$sandbox->stop();
        foreach (['GDRIVE_API_ROOT', 'GDRIVE_OAUTH_AUTH_URL', 'GDRIVE_OAUTH_TOKEN_URL', 'GDRIVE_OAUTH_REVOKE_URL',
            'GDRIVE_BACKUP_LOG_LEVEL', 'FAKE_PLESK_SETTINGS_FILE'] as $name) {
            putenv($name);
        }
        PleskTestCase::removeTree(self::$root);
        if ($pid > 0) {
            self::assertFileDoesNotExist("/proc/$pid/stat", 'pre-uninstall stopped the service');
        }
    }

    protected function setUp(): void
    {
        self::applyEnvironment();
        pm_Session::$client = null;
        pm_Domain::$names = [12 => 'example.com', 13 => 'shop.example.org'];
        pm_Client::$registry = [];
        pm_Client::register(3, 'jdoe', 'customer');
        pm_Client::register(2, 'resell', 'reseller');
    }

    /** Other test classes reset the fake runtime: put this class's back. */
    private static function applyEnvironment(): void
    {
        pm_Context::$varDir = self::$root . '/var';
        putenv('FAKE_PLESK_SETTINGS_FILE=' . self::$settingsFile);
        putenv('GDRIVE_BACKUP_LOG_LEVEL=warn');
        foreach (['GDRIVE_API_ROOT', 'GDRIVE_OAUTH_AUTH_URL', 'GDRIVE_OAUTH_TOKEN_URL', 'GDRIVE_OAUTH_REVOKE_URL'] as $name) {
            putenv($name . '=' . self::$sandbox->env[$name]);
        }
    }

    protected static function hook(string $type, ?int $id): Modules_GdriveBackup_Backup_Transport
    {
        $hook = new Modules_GdriveBackup_Backup_Transport();
        $hook->init($type, $id);
        return $hook;
    }

    /** The storage settings page of an object, as Plesk's controller sees a request to $uri. */
    protected static function page(string $uri): Zend_Controller_Action
    {
        parse_str((string) parse_url($uri, PHP_URL_QUERY), $params);
        return new Zend_Controller_Action(new Zend_Controller_Request_Http($params, [], $uri));
    }

    protected static function settingsUri(string $type, ?int $id): string
    {
        return '/admin/backup/remote-storage-settings/ext/gdrive-backup?type=' . $type . ($id === null ? '' : '&id=' . $id);
    }

    /**
     * Clicks "Connect Google Drive" on the object's settings page.
     *
     * @return string the consent URL the page redirected to
     */
    protected static function clickConnect(string $type, ?int $id): string
    {
        $page = self::page(Modules_GdriveBackup_OAuthFlow::connectUrl(self::settingsUri($type, $id)));
        self::hook($type, $id)->authorize($page);
        self::assertNotNull($page->redirectedTo);
        return $page->redirectedTo;
    }

    /**
     * Brings Google's answer through the fixed callback back to the settings page (whose hook
     * runs authorize() again); returns the page's form as the admin then sees it.
     *
     * @param array<string, string> $answer the callback's query
     * @param string|null $pageUri the settings page URL with the answer, when not via the callback
     */
    protected static function answer(array $answer, string $type, ?int $id, ?string $pageUri = null): Modules_GdriveBackup_SettingsSubForm
    {
        if ($pageUri === null) {
            $bounce = (new Modules_GdriveBackup_OAuthCallback())->bounce($answer);
            self::assertSame(302, $bounce['status'], $bounce['message'] ?? '');
            $pageUri = $bounce['location'];
        }
        $page = self::page($pageUri);
        $hook = self::hook($type, $id);
        $hook->authorize($page);
        self::assertSame(Modules_GdriveBackup_OAuthFlow::cleanUrl($pageUri), $page->redirectedTo);
        // The clean page after the redirect.
        $clean = self::page((string) $page->redirectedTo);
        $hook = self::hook($type, $id);
        $hook->authorize($clean);
        self::assertNull($clean->redirectedTo);
        return $hook->getSettingsSubForm();
    }

    protected static function message(Modules_GdriveBackup_SettingsSubForm $form): string
    {
        return (string) $form->getElement('message')?->getDescription();
    }

    /** Connects the object through the whole redirect flow; returns the account's e-mail. */
    protected static function connect(string $type, ?int $id): string
    {
        $consent = self::clickConnect($type, $id);
        $answer = Sandbox::consent($consent);
        self::assertSame(Modules_GdriveBackup_Settings::callbackUrl(), $answer['__redirect']);
        unset($answer['__redirect']);
        $form = self::answer($answer, $type, $id);
        self::assertMatchesRegularExpression('/^Google Drive is connected as \S+@\S+\.$/', self::message($form));
        return substr(self::message($form), strlen('Google Drive is connected as '), -1);
    }
}
