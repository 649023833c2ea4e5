using System.CommandLine;
using Iwae.Autodiff;
using Iwae.Core.Checkpoints;
using Iwae.Core.Training;
using Iwae.Datasets;

namespace Iwae.Cli.Commands;

/// <summary>
/// Where a command prints and what stops it, with the one rule for failures: every expected failure (bad input,
/// bad file, divergence, Ctrl+C) is one line on stderr and an exit code from <see cref="IwaeCommand"/>.
/// </summary>
internal sealed record CliIo(TextWriter Out, TextWriter Err, CancellationToken Cancel)
{
    /// <summary>
    /// The failures a command expects, by the kind of exception, each with its exit code: bad input of every kind is 2,
    /// a run that went non-finite 3, Ctrl+C or SIGTERM 130. docs/errors.md has a row for each (ErrorsDocTests holds the
    /// two together); anything else is a bug (<see cref="IwaeCommand.InternalError"/>).
    /// </summary>
    public static readonly IReadOnlyList<(Type Exception, int Code)> ExpectedFailures =
    [
        (typeof(SettingException), IwaeCommand.BadInput),             // a setting's value, named by its option (CliOptions.Describe)
        (typeof(ArgumentException), IwaeCommand.BadInput),            // an option that does not parse, options that do not go together
        (typeof(DataFormatException), IwaeCommand.BadInput),          // a data file
        (typeof(CheckpointFormatException), IwaeCommand.BadInput),    // a checkpoint or state_dict
        (typeof(IOException), IwaeCommand.BadInput),                  // files, folders, downloads, a run folder's lock
        (typeof(UnauthorizedAccessException), IwaeCommand.BadInput),  // permissions
        (typeof(InvalidDataException), IwaeCommand.BadInput),         // a compressed file or a run's JSON
        (typeof(NonFiniteException), IwaeCommand.Diverged),
        (typeof(OperationCanceledException), IwaeCommand.Interrupted),
    ];

    /// <summary>The exit code of an expected failure, or null for an exception no command expects.</summary>
    public static int? ExitCode(Exception e)
    {
        foreach (var (type, code) in ExpectedFailures)
            if (type.IsInstanceOfType(e)) return code;
        return null;
    }

    /// <summary>
    /// Runs the action of the command that <paramref name="command"/> parsed, turning expected failures into one line on
    /// stderr and an exit code. A setting the libraries refuse (<see cref="SettingException"/>, which names the field as
    /// configs spell it) is named by the option that set it (<see cref="CliOptions.Describe"/>).
    /// <paramref name="interrupted"/> replaces the line for Ctrl+C (by default it speaks of training's checkpoint).
    /// </summary>
    public int Guard(ParseResult command, Func<int> body, string? interrupted = null) => Guard(body, interrupted, command);

    /// <summary>Runs <paramref name="body"/>, turning expected failures into one line on stderr and an exit code.</summary>
    public int Guard(Func<int> body, string? interrupted = null, ParseResult? command = null)
    {
        try
        {
            return body();
        }
        catch (Exception e) when (ExitCode(e) is int code)
        {
            string message = e is SettingException s && command is not null ? command.Describe(s) : e.Message;
            Err.WriteLine(code switch
            {
                IwaeCommand.Diverged => $"iwae: training stopped: {OneLine(message)}",
                IwaeCommand.Interrupted => interrupted ?? "iwae: interrupted; the checkpoint is saved, continue with `iwae train --resume <out folder>`",
                _ => $"iwae: {OneLine(message)}",
            });
            return code;
        }
    }

    /// <summary>
    /// Draws figures after a finished run: a failure of the drawing itself is one line on stderr and
    /// <see cref="IwaeCommand.FiguresFailed"/>, and the results stay; bad input and Ctrl+C go on to <see cref="Guard(ParseResult, Func{int}, string?)"/>.
    /// </summary>
    public int WriteFigures(string dir, Func<IReadOnlyList<string>> draw)
    {
        try
        {
            draw();
            return 0;
        }
        catch (Exception e) when (ExitCode(e) is null)
        {
            Err.WriteLine($"iwae: figures and report not written ({OneLine(e.Message)}); the results are in {dir}, retry with `iwae plot --run {dir}`");
            return IwaeCommand.FiguresFailed;
        }
    }

    /// <summary>A message on one line.</summary>
    public static string OneLine(string s) => s.ReplaceLineEndings(" ");
}
