<?php

declare(strict_types=1);

/**
 * The extension's command line on the server (`plesk ext <id> --<cmd>` runs `<cmd>Command()` of
 * this pm_Hook_ApiCli; plesk/pm-api-stubs pm/Hook/ApiCli.php):
 *
 *   plesk ext gdrive-backup --cli status --object subscription:12
 *   plesk ext gdrive-backup --cli get clients/jdoe/backup.tar /root/backup.tar --object customer:3
 *
 * runs the connector's CLI against the extension's data dir and secrets (CliRunner).
 */
class Modules_GdriveBackup_ApiCli extends pm_Hook_ApiCli
{
    public function cliCommand()
    {
        $result = Modules_GdriveBackup_CliRunner::fromContext()->run(array_values(array_map('strval', (array) $this->getArguments())));
        if ($result['stdout'] !== '') {
            $this->stdout($result['stdout']);
        }
        if ($result['stderr'] !== '') {
            $this->stderr($result['stderr']);
        }
        $this->exitCode($result['code']);
    }

    public function helpCommand()
    {
        $this->stdout(Modules_GdriveBackup_CliRunner::usage());
    }
}
