<?php

declare(strict_types=1);

/**
 * The hook when the connector cannot run (here: its program is missing), and how connector
 * errors become the admin's sentence.
 */
final class HookWithoutConnectorTest extends PleskTestCase
{
    private Modules_GdriveBackup_Backup_Transport $hook;

    protected function setUp(): void
    {
        parent::setUp();
        pm_Settings::set('connector-bundle', $this->varDir . '/missing/gdrive-backup.mjs');
        $this->hook = new Modules_GdriveBackup_Backup_Transport();
        $this->hook->init('subscription', '12');
    }

    public function testTheUiKeepsWorkingAndCheckSaysWhatToDo(): void
    {
        self::assertFalse($this->hook->isConfigured());
        self::assertStringContainsString('reinstall the GDrive Backup Storage extension', pm_Log::text());
        $check = $this->hook->check();
        self::assertSame([], $check['warnings']);
        self::assertStringContainsString('reinstall the GDrive Backup Storage extension', $check['errors'][0]);
        self::assertSame([], $this->hook->getQuota());
        self::assertStringContainsString('the connector cannot be reached: The connector program', $this->hook->getDescription());
        $form = $this->hook->getSettingsSubForm();
        self::assertStringContainsString('reinstall', (string) $form->getElement('connectorError')->getDescription());
        self::assertNotNull($form->getElement('connect'));
    }

    public function testFileOperationsThrowPmException(): void
    {
        $this->expectException(pm_Exception::class);
        $this->expectExceptionMessage('reinstall the GDrive Backup Storage extension');
        $this->hook->openFileWrite('backup.tar');
    }

    public function testUnknownHandlesNeverReachTheConnector(): void
    {
        $this->expectExceptionMessage('The file handle "fd-7" is unknown or already closed: open the file again.');
        $this->hook->closeFile('fd-7');
    }

    public function testObjectsAreCheckedAndNamed(): void
    {
        self::assertSame('subscription:12', Modules_GdriveBackup_BackupObject::fromHook('subscription', '12')->ref());
        self::assertSame('example.com', Modules_GdriveBackup_BackupObject::fromHook('subscription', 12)->displayName());
        self::assertSame('jdoe', Modules_GdriveBackup_BackupObject::fromHook('customer', 3)->displayName());
        self::assertSame('resell', Modules_GdriveBackup_BackupObject::fromHook('reseller', 2)->displayName());
        self::assertSame('server', Modules_GdriveBackup_BackupObject::fromHook('server', null)->ref());
        self::assertNull(Modules_GdriveBackup_BackupObject::fromHook('subscription', 99)->displayName());
        $this->expectExceptionMessage('The object "domain" is not valid');
        (new Modules_GdriveBackup_Backup_Transport())->init('domain', 1);
    }

    public function testConnectorErrorsUseTheLocaleAndFallBackToTheConnectorsSentence(): void
    {
        self::assertSame('There is no "a/b" on Google Drive.', Modules_GdriveBackup_ConnectorClient::localise('not_found', 'x', ['path' => 'a/b']));
        // A code this extension does not know yet (a newer connector): the connector's sentence.
        self::assertSame('Connector sentence.', Modules_GdriveBackup_ConnectorClient::localise('brand_new', 'Connector sentence.', []));
        // A placeholder the answer does not fill: the connector's (filled) sentence.
        self::assertSame('The path "a" is not allowed: it has "..".', Modules_GdriveBackup_ConnectorClient::localise('invalid_path', 'The path "a" is not allowed: it has "..".', ['path' => 'a']));
    }
}
