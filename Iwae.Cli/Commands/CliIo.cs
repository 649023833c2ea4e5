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
        (typeof(ArgumentException), IwaeCommand.BadInput),            // an option's or a setting's value
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
    /// Runs <paramref name="body"/>, turning expected failures into one line on stderr and an exit code.
    /// <paramref name="interrupted"/> replaces the line for Ctrl+C (by default it speaks of training's checkpoint).
    /// </summary>
    public int Guard(Func<int> body, string? interrupted = null)
    {
        try
        {
            return body();
        }
        catch (Exception e) when (ExitCode(e) is int code)
        {
            Err.WriteLine(code switch
            {
                IwaeCommand.Diverged => $"iwae: training stopped: {OneLine(e.Message)}",
                IwaeCommand.Interrupted => interrupted ?? "iwae: interrupted; the checkpoint is saved, continue with `iwae train --resume <out folder>`",
                _ => $"iwae: {OneLine(e.Message)}",
            });
            return code;
        }
    }

    /// <summary>
    /// Draws figures after a finished run: a failure of the drawing itself is one line on stderr and
    /// <see cref="IwaeCommand.FiguresFailed"/>, and the results stay; bad input and Ctrl+C go on to <see cref="Guard"/>.
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
