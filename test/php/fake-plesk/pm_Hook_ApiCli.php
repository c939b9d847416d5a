<?php

declare(strict_types=1);

/**
 * Fake of Plesk's pm_Hook_ApiCli with the SDK's declarations (plesk/pm-api-stubs,
 * pm/Hook/ApiCli.php): `plesk ext <id> --<cmd> args...` runs `<cmd>Command()`. What the fake
 * adds (the fakeRun() helper, getArguments() answering the words after `--<cmd>`, exitCode()
 * ending the command with FakeApiCliExit) is how the tests play Plesk's part; how Plesk splits
 * the arguments exactly is not documented in the stubs.
 */
abstract class pm_Hook_ApiCli implements pm_Hook_Interface
{
    /** @var list<string> */
    private array $fakeArguments = [];
    private string $fakeCommand = 'default';
    private string $fakeStdout = '';
    private string $fakeStderr = '';

    public function init()
    {
    }

    public function defaultCommand()
    {
        $this->helpCommand();
    }

    public function helpCommand()
    {
        $this->stdout('Commands: ' . implode(', ', $this->getAvailableCommands()) . "\n");
    }

    public function getArguments()
    {
        return $this->fakeArguments;
    }

    public function getOption($name, $default = null)
    {
        $index = array_search('--' . $name, $this->fakeArguments, true);
        return $index === false ? $default : ($this->fakeArguments[$index + 1] ?? $default);
    }

    public function getCommandName()
    {
        return $this->fakeCommand;
    }

    public function getAvailableCommands()
    {
        $commands = [];
        foreach (get_class_methods($this) as $method) {
            if (preg_match('/^(\w+)Command$/', $method, $match)) {
                $commands[] = $match[1];
            }
        }
        return $commands;
    }

    public function getAvailableOptions($command)
    {
        return [];
    }

    public function stdout($message)
    {
        $this->fakeStdout .= (string) $message;
    }

    public function stderr($message)
    {
        $this->fakeStderr .= (string) $message;
    }

    public function exitCode($code = 0)
    {
        throw new FakeApiCliExit((int) $code);
    }

    /**
     * Test helper, not in the SDK: runs `plesk ext <id> --<command> <arguments...>` on a new
     * instance of $class.
     *
     * @param list<string> $argv the words after `plesk ext <id>`, e.g. ['--cli', 'status']
     * @return array{code: int, stdout: string, stderr: string}
     */
    public static function fakeRun(string $class, array $argv): array
    {
        $hook = new $class();
        $first = $argv[0] ?? '';
        $hook->fakeCommand = str_starts_with($first, '--') ? substr($first, 2) : 'default';
        $hook->fakeArguments = array_values(array_slice($argv, str_starts_with($first, '--') ? 1 : 0));
        $code = 0;
        try {
            $hook->init();
            $method = $hook->fakeCommand . 'Command';
            if (!method_exists($hook, $method)) {
                $hook->stderr("Unknown command --{$hook->fakeCommand}\n");
                $code = 1;
            } else {
                $hook->$method();
            }
        } catch (FakeApiCliExit $exit) {
            $code = $exit->exitCode;
        }
        return ['code' => $code, 'stdout' => $hook->fakeStdout, 'stderr' => $hook->fakeStderr];
    }
}

/** How the fake ends a command at exitCode(); Plesk exits the utility there. */
final class FakeApiCliExit extends Exception
{
    public function __construct(public readonly int $exitCode)
    {
        parent::__construct("exit $exitCode");
    }
}
