/**
 * `gdrive-backup completion bash|zsh`: shell completion scripts made from the commander
 * program itself (its commands, their visible options and which options take a value), so
 * they list exactly what the command accepts. bash: `complete -F`; zsh: a native `#compdef`
 * function with `_arguments` and `_describe`.
 *
 *   source <(gdrive-backup completion bash)        # or put it in ~/.bashrc
 *   gdrive-backup completion zsh > "${fpath[1]}/_gdrive-backup"
 */
import type { Command, Option } from 'commander';

interface CommandInfo {
  name: string;
  description: string;
  options: Option[];
}

const OBJECT_KINDS = ['server', 'reseller:', 'customer:', 'subscription:'];

function visibleOptions(command: Command): Option[] {
  return command.options.filter((option) => !option.hidden && option.long !== undefined);
}

function takesValue(option: Option): boolean {
  return option.required || option.optional;
}

function commandsOf(program: Command): CommandInfo[] {
  return program.commands.map((command) => ({
    name: command.name(),
    description: command.description(),
    options: visibleOptions(command),
  }));
}

function longFlags(options: Option[]): string {
  return [...options.map((option) => option.long!), '--help'].join(' ');
}

/** Every long flag of the program and its commands, hidden ones included, that takes a value. */
function valueFlags(program: Command): string[] {
  const flags = new Set<string>();
  for (const command of [program, ...program.commands])
    for (const option of command.options) if (option.long && takesValue(option)) flags.add(option.long);
  return [...flags].sort();
}

export function bashCompletion(program: Command): string {
  const name = program.name();
  const cases = commandsOf(program)
    .map((command) => {
      const choices = command.name === 'completion' ? 'bash zsh' : '';
      return `    ${command.name}) opts="${longFlags(command.options)}"; words="${choices}" ;;`;
    })
    .join('\n');
  return `# bash completion for ${name}: source <(${name} completion bash)
_gdrive_backup() {
  local cur=\${COMP_WORDS[COMP_CWORD]} prev=\${COMP_WORDS[COMP_CWORD-1]} command="" opts="" words="" i word
  local takes=" ${valueFlags(program).join(' ')} "
  for ((i = 1; i < COMP_CWORD; i++)); do
    word=\${COMP_WORDS[i]}
    if [[ $word == -* ]]; then
      [[ $takes == *" $word "* ]] && ((i++))
      continue
    fi
    command=$word
    break
  done
  if [[ $prev == --object ]]; then
    COMPREPLY=($(compgen -W "${OBJECT_KINDS.join(' ')}" -- "$cur"))
    return
  fi
  if [[ $takes == *" $prev "* ]]; then
    COMPREPLY=($(compgen -f -- "$cur"))
    return
  fi
  if [[ -z $command ]]; then
    if [[ $cur == -* ]]; then
      COMPREPLY=($(compgen -W "${longFlags(visibleOptions(program))} --version" -- "$cur"))
    else
      COMPREPLY=($(compgen -W "${commandsOf(program)
        .map((command) => command.name)
        .join(' ')}" -- "$cur"))
    fi
    return
  fi
  case $command in
${cases}
  esac
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
  elif [[ -n $words ]]; then
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
  else
    COMPREPLY=($(compgen -f -- "$cur"))
  fi
}
complete -o filenames -F _gdrive_backup ${name}
`;
}

/** Text safe inside a zsh `[...]` description or a single-quoted word. */
function zshText(text: string): string {
  return text
    .replace(/[[\]:'\\]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

function zshOptionSpec(option: Option): string {
  const help = zshText(option.description);
  if (!takesValue(option)) return `'${option.long}[${help}]'`;
  if (option.long === '--object') return `'${option.long}=[${help}]:object:(${OBJECT_KINDS.join(' ')})'`;
  if (option.argChoices) return `'${option.long}=[${help}]:value:(${option.argChoices.join(' ')})'`;
  return `'${option.long}=[${help}]:value:_files'`;
}

export function zshCompletion(program: Command): string {
  const name = program.name();
  const commands = commandsOf(program);
  const described = commands
    .map((command) => `    '${command.name}:${zshText(command.description)}'`)
    .join('\n');
  const cases = commands
    .map((command) => {
      const specs = [...command.options.map(zshOptionSpec), "'--help[show help]'"];
      const rest = command.name === 'completion' ? "'1:shell:(bash zsh)'" : "'*:file:_files'";
      return `        (${command.name}) _arguments ${[...specs, rest].join(' ')} ;;`;
    })
    .join('\n');
  const globals = [
    ...visibleOptions(program).map(zshOptionSpec),
    "'--help[show help]'",
    "'--version[print the version]'",
  ];
  return `#compdef ${name}
# zsh completion for ${name}: ${name} completion zsh > "\${fpath[1]}/_${name}" (or source it after compinit)
_gdrive_backup() {
  local curcontext=$curcontext state line
  local -a commands
  commands=(
${described}
  )
  _arguments -C ${globals.join(' ')} '1:command:->command' '*::arg:->args'
  case $state in
    (command) _describe -t commands '${name} command' commands ;;
    (args)
      case $line[1] in
${cases}
      esac
      ;;
  esac
}
if (( $+functions[compdef] )); then
  compdef _gdrive_backup ${name}
fi
`;
}
