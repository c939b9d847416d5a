<?php

declare(strict_types=1);

/** The extension page: the admin stores the OAuth client once; the secret never comes back in full. */
final class IndexControllerTest extends PleskTestCase
{
    private string $settingsFile;

    protected function setUp(): void
    {
        parent::setUp();
        $this->settingsFile = $this->varDir . '/settings.json';
        putenv('FAKE_PLESK_SETTINGS_FILE=' . $this->settingsFile);
    }

    protected function tearDown(): void
    {
        putenv('FAKE_PLESK_SETTINGS_FILE');
        parent::tearDown();
    }

    private static function page(IndexController $controller): string
    {
        return $controller->view->renderFile(PLIB . '/views/scripts/index/index.phtml');
    }

    private static function post(array $post): IndexController
    {
        $controller = new IndexController(new Zend_Controller_Request_Http([], $post, '/modules/gdrive-backup/index.php/index/index'));
        $controller->indexAction();
        return $controller;
    }

    public function testShowsTheCallbackUrlToRegisterWithTheSteps(): void
    {
        $controller = self::post([]);
        $html = self::page($controller);
        self::assertStringContainsString('https://panel.example.com:8443/modules/gdrive-backup/public/oauth-callback.php', $html);
        self::assertStringContainsString('Web application', $html);
        self::assertStringContainsString('name="clientId"', $html);
        self::assertNull($controller->redirectedTo);
    }

    public function testStoresTheClientWithTheSecretEncryptedAndShowsItMasked(): void
    {
        $secret = 'GOCSPX-abcdefghijklmnop1234';
        $controller = self::post(['clientId' => ' 123.apps.googleusercontent.com ', 'clientSecret' => $secret,
            'callbackUrl' => 'https://plesk.example.net/modules/gdrive-backup/public/oauth-callback.php']);
        self::assertSame('/modules/gdrive-backup/', $controller->redirectedTo);
        self::assertSame([['info', 'The OAuth client is saved.']], pm_View_Status::$messages);
        self::assertSame('123.apps.googleusercontent.com', Modules_GdriveBackup_Settings::clientId());
        self::assertSame($secret, Modules_GdriveBackup_Settings::clientSecret());
        self::assertStringNotContainsString($secret, (string) file_get_contents($this->settingsFile));

        $html = self::page(self::post([]));
        self::assertStringNotContainsString($secret, $html);
        self::assertStringNotContainsString('abcdefghijklmnop', $html);
        self::assertStringContainsString('1234', $html);
        self::assertStringContainsString('https://plesk.example.net/modules/gdrive-backup/public/oauth-callback.php', $html);

        // An empty secret keeps the stored one.
        self::post(['clientId' => 'other.apps.googleusercontent.com', 'clientSecret' => '',
            'callbackUrl' => 'https://plesk.example.net/modules/gdrive-backup/public/oauth-callback.php']);
        self::assertSame('other.apps.googleusercontent.com', Modules_GdriveBackup_Settings::clientId());
        self::assertSame($secret, Modules_GdriveBackup_Settings::clientSecret());
    }

    public function testRefusesBadInput(): void
    {
        $controller = self::post(['clientId' => 'has space', 'clientSecret' => '', 'callbackUrl' => 'ftp://x/y']);
        self::assertNull($controller->redirectedTo);
        $html = self::page($controller);
        self::assertStringContainsString('cannot contain spaces', $html);
        self::assertStringContainsString('ending with public/oauth-callback.php', $html);
        self::assertStringContainsString('required', $html);
        self::assertSame('', Modules_GdriveBackup_Settings::clientId());
    }

    public function testCustomersAndResellersOnlyLearnWhereConnectIs(): void
    {
        pm_Settings::setEncrypted('client-secret', 'GOCSPX-zzzzzzzzzzzzzz9999');
        foreach ([3, 2] as $clientId) {
            pm_Session::$client = pm_Client::getByClientId($clientId);
            $controller = self::post(['clientId' => 'evil', 'clientSecret' => 'x', 'callbackUrl' => 'https://e/public/oauth-callback.php']);
            $html = self::page($controller);
            self::assertStringContainsString('Connect Google Drive', $html);
            self::assertStringNotContainsString('<form', $html);
            self::assertStringNotContainsString('9999', $html);
            self::assertSame('', Modules_GdriveBackup_Settings::clientId());
        }
    }
}
