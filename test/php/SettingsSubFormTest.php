<?php

declare(strict_types=1);

/** The storage settings sub-form: Connect when not connected; account, Disconnect and folder when connected. */
final class SettingsSubFormTest extends PleskTestCase
{
    private static function form(array $account, string $type = 'subscription', ?int $id = 12): Modules_GdriveBackup_SettingsSubForm
    {
        return new Modules_GdriveBackup_SettingsSubForm(['context' => [
            'objectType' => $type,
            'objectId' => $id,
            'account' => $account,
            'connectUrl' => '/smb/backup/settings?domainId=12&gdrive-connect=1',
        ]]);
    }

    public function testNotConnectedShowsTheConnectButton(): void
    {
        pm_Settings::set('client-id', 'id.apps.googleusercontent.com');
        pm_Settings::setEncrypted('client-secret', 'GOCSPX-secret');
        $form = self::form(['connected' => false]);
        $connect = (string) $form->getElement('connect')->getDescription();
        self::assertStringContainsString('href="/smb/backup/settings?domainId=12&amp;gdrive-connect=1"', $connect);
        self::assertStringContainsString('Connect Google Drive', $connect);
        self::assertNull($form->getElement('gdrive-disconnect'));
        self::assertNull($form->getElement('notConfigured'));
    }

    public function testWithoutOAuthClientAdminsAreSentToTheExtensionPageOthersToTheirProvider(): void
    {
        self::assertStringContainsString('/modules/gdrive-backup/', (string) self::form([])->getElement('notConfigured')->getDescription());
        pm_Session::$client = pm_Client::getByClientId(3);
        $text = (string) self::form([])->getElement('notConfigured')->getDescription();
        self::assertStringContainsString('ask your hosting provider', $text);
        self::assertStringNotContainsString('OAuth', $text);
    }

    public function testConnectedShowsAccountDisconnectAndFolder(): void
    {
        $form = self::form(['connected' => true, 'email' => 'o<b>@x.com', 'folder' => 'My Drive/Plesk Backups/h/subscription/example.com']);
        $account = (string) $form->getElement('account')->getDescription();
        self::assertStringContainsString('o&lt;b&gt;@x.com', $account);
        self::assertStringContainsString('My Drive/Plesk Backups/h/subscription/example.com', $account);
        self::assertSame('Disconnect', $form->getElement('gdrive-disconnect')->getLabel());
        self::assertNotNull($form->getElement('folder'));
        self::assertNull($form->getElement('connect'));
    }

    public function testConnectorTroubleIsShownOnTheForm(): void
    {
        $form = self::form(['connected' => false, 'error' => 'The connector does not answer.']);
        self::assertSame('The connector does not answer.', $form->getElement('connectorError')->getDescription());
    }

    /** @dataProvider folders */
    public function testFolderValidation(string $folder, ?string $problem): void
    {
        $form = self::form(['connected' => true, 'email' => 'a@b.c']);
        $valid = $form->isValid(['folder' => $folder]);
        self::assertSame($problem === null, $valid, $folder);
        if ($problem !== null) {
            self::assertStringContainsString($problem, implode(' ', $form->getElement('folder')->getMessages()));
        }
    }

    public static function folders(): array
    {
        return [
            'default' => ['', null],
            'name' => ['example.com backups', null],
            'path' => ['Plesk Backups/web1', null],
            'trimmed' => ['  example.com  ', null],
            'folder id' => ['id:1AbC_dEf-234567890', null],
            'shared drive' => ['drive:0ABcdEFghIJklUk9PVA', null],
            'shared drive path' => ['drive:0ABcdEFghIJklUk9PVA/Backups/Plesk', null],
            'empty segment' => ['a//b', 'cannot be empty'],
            'absolute' => ['/a', 'cannot be empty'],
            'dot dot' => ['..', 'cannot be empty'],
            'control' => ["a\tb", 'control characters'],
            'too long' => [str_repeat('x', 256), 'at most 255 bytes'],
            'bad id' => ['id:../x', 'id of a Google Drive folder'],
            'bad drive' => ['drive:', 'id of a shared drive'],
            'bad drive path' => ['drive:0ABcdEFghIJklUk9PVA/../x', 'cannot be empty'],
        ];
    }

    public function testProcessSavesTheFolderPerObject(): void
    {
        $form = self::form(['connected' => false]);
        self::assertTrue($form->isValid(['folder' => ' example.com ']));
        $form->process();
        $object = Modules_GdriveBackup_BackupObject::fromHook('subscription', 12);
        self::assertSame('example.com', Modules_GdriveBackup_Settings::folder($object));
        self::assertSame('', Modules_GdriveBackup_Settings::folder(Modules_GdriveBackup_BackupObject::fromHook('server', null)));
        self::assertSame('example.com', self::form([])->getValue('folder'));
    }

    public function testAMessageIsShownOnce(): void
    {
        $object = Modules_GdriveBackup_BackupObject::fromHook('subscription', 12);
        Modules_GdriveBackup_Settings::pushMessage($object, 'info', 'Google Drive is connected as a@b.c.');
        self::assertSame('Google Drive is connected as a@b.c.', self::form([])->getElement('message')->getDescription());
        self::assertNull(self::form([])->getElement('message'));
        self::assertNull(self::form([], 'server', null)->getElement('message'));
    }
}
