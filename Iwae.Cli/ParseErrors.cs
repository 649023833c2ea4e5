using System.CommandLine.Parsing;
using System.CommandLine;
using System.Globalization;

namespace Iwae.Cli;

/// <summary>
/// A command line that does not parse, as one line naming the option and the value: System.CommandLine's own messages
/// name .NET types ("as expected type 'System.Int32'") and come with the whole help, which hides the one thing wrong.
/// </summary>
internal static class ParseErrors
{
    /// <summary>The errors of <paramref name="parse"/> on one line, after the command's name ("iwae train: ...").</summary>
    public static string OneLine(ParseResult parse)
    {
        // Stray tokens (an unknown option, its value, everything after a '--') come from one mistake: name the first,
        // after what is wrong with the options themselves.
        var errors = parse.Errors.Select(e => Describe(parse, e)).Distinct().ToList();
        static bool Stray(string e) => e.StartsWith("unknown", StringComparison.Ordinal) || e.StartsWith("unexpected", StringComparison.Ordinal)
                                       || e.Contains("which ends the options", StringComparison.Ordinal);
        var stray = errors.Where(Stray).Take(1).ToList();
        errors = [.. errors.Where(e => !Stray(e) && !(stray.Count > 0 && e.StartsWith("a command is needed", StringComparison.Ordinal))), .. stray];
        return $"{Path(parse.CommandResult.Command)}: {string.Join("; ", errors)}";
    }

    private static string Describe(ParseResult parse, ParseError error)
    {
        switch (error.SymbolResult)
        {
            case OptionResult { Tokens.Count: > 0 } option:
                return BadValue(OptionName(option), option.Tokens[^1].Value, option.Option.ValueType) ?? error.Message;
            case ArgumentResult { Parent: OptionResult option, Tokens.Count: > 0 } argument:
                return BadValue(OptionName(option), argument.Tokens[^1].Value, option.Option.ValueType) ?? error.Message;
            case ArgumentResult { Tokens.Count: > 0 } positional:
                return BadValue($"<{positional.Argument.Name}>", positional.Tokens[^1].Value, positional.Argument.ValueType) ?? error.Message;
            case ArgumentResult { Tokens.Count: 0, Parent: CommandResult } absent:
                return $"<{absent.Argument.Name}> is required ({absent.Argument.Description})";
            case OptionResult { Tokens.Count: 0, Implicit: false } missing:
                return $"{OptionName(missing)} needs a value";
        }
        var command0 = parse.CommandResult.Command;
        if (command0.Options.FirstOrDefault(o => o.Required && error.Message.Contains($"'{o.Name}'", StringComparison.Ordinal)) is { } required)
            return $"{required.Name} is required";
        var unmatched = parse.UnmatchedTokens.FirstOrDefault(t => error.Message.Contains($"'{t}'", StringComparison.Ordinal));
        if (unmatched is not null) return Unrecognized(parse.CommandResult.Command, unmatched);
        if (error.SymbolResult is CommandResult { Command: var command } && command.Subcommands.Count > 0 && command.Action is null)
            return $"a command is needed: {string.Join(", ", command.Subcommands.Select(c => c.Name))} (`{Path(command)} --help` describes them)";
        return error.Message;
    }

    /// <summary>What is wrong with <paramref name="value"/> for a value of <paramref name="type"/>, or null when the type parses it.</summary>
    private static string? BadValue(string option, string value, Type type)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        string shown = value.Length == 0 ? "an empty value" : $"'{value}'";
        bool integral = value.TrimStart('-', '+').Length > 0 && value.TrimStart('-', '+').All(char.IsAsciiDigit);
        if (type == typeof(int))
            return integral ? $"{option}: {shown} is out of range (a whole number up to {int.MaxValue})" : $"{option}: {shown} is not a whole number";
        if (type == typeof(long))
            return integral ? $"{option}: {shown} is out of range (a whole number up to {long.MaxValue})" : $"{option}: {shown} is not a whole number";
        if (type == typeof(ulong))
            return integral ? $"{option}: {shown} is out of range (a whole number from 0 to {ulong.MaxValue})" : $"{option}: {shown} is not a whole number";
        if (type == typeof(double) || type == typeof(float))
            return $"{option}: {shown} is not a number";
        if (type == typeof(bool))
            return $"{option}: {shown} is not true or false";
        return null;
    }

    private static string OptionName(OptionResult option) => option.IdentifierToken?.Value ?? option.Option.Name;

    /// <summary>"unknown option '--kk' (did you mean --k?)", or the same for a stray argument or command.</summary>
    private static string Unrecognized(Command command, string token)
    {
        var names = command.Options.SelectMany(o => o.Aliases.Prepend(o.Name)).Concat(command.Subcommands.Select(c => c.Name)).Distinct().ToArray();
        var near = names.Select(n => (Name: n, Distance: Distance(n, token))).Where(x => x.Distance <= Math.Max(2, token.Length / 3)).OrderBy(x => x.Distance).FirstOrDefault().Name;
        if (names.Contains(token)) return $"'{token}' comes after '--', which ends the options (a value starting with '-' goes as --option=-value)";
        string what = token.StartsWith('-') ? "unknown option" : command.Subcommands.Count > 0 ? "unknown command" : "unexpected argument";
        string hint = near is null ? $"`{Path(command)} --help` lists what it takes" : $"did you mean {near}?";
        return string.Create(CultureInfo.InvariantCulture, $"{what} '{token}' ({hint})");
    }

    private static string Path(Command command)
    {
        var names = new List<string>();
        for (Symbol? s = command; s is Command c; s = c.Parents.FirstOrDefault()) names.Insert(0, c is RootCommand ? "iwae" : c.Name);
        return string.Join(" ", names);
    }

    /// <summary>Levenshtein distance, for the nearest option name.</summary>
    private static int Distance(string a, string b)
    {
        var row = Enumerable.Range(0, b.Length + 1).ToArray();
        for (int i = 1; i <= a.Length; i++)
        {
            int diagonal = row[0];
            row[0] = i;
            for (int j = 1; j <= b.Length; j++)
            {
                int above = row[j];
                row[j] = Math.Min(Math.Min(row[j] + 1, row[j - 1] + 1), diagonal + (a[i - 1] == b[j - 1] ? 0 : 1));
                diagonal = above;
            }
        }
        return row[b.Length];
    }
}
