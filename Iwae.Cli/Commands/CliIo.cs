using Iwae.Core;
using Iwae.Core.Checkpoints;
using Iwae.Core.Data;

namespace Iwae.Cli.Commands;

/// <summary>
/// Where a command prints and what stops it, with the one rule for failures: every expected failure (bad input,
/// bad file, divergence, Ctrl+C) is one line on stderr and an exit code from <see cref="IwaeCommand"/>.
/// </summary>
internal sealed record CliIo(TextWriter Out, TextWriter Err, CancellationToken Cancel)
{
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
        catch (Exception e) when (e is ArgumentException or DataFormatException or CheckpointFormatException or IOException
                                      or UnauthorizedAccessException or InvalidDataException)
        {
            Err.WriteLine($"iwae: {OneLine(e.Message)}");
            return IwaeCommand.BadInput;
        }
        catch (NonFiniteException e)
        {
            Err.WriteLine($"iwae: training stopped: {OneLine(e.Message)}");
            return IwaeCommand.Diverged;
        }
        catch (OperationCanceledException)
        {
            Err.WriteLine(interrupted ?? "iwae: interrupted; the checkpoint is saved, continue with `iwae train --resume <out folder>`");
            return IwaeCommand.Interrupted;
        }
    }

    /// <summary>Draws figures after a finished run: a failure there is one line on stderr, and the results stay.</summary>
    public int WriteFigures(string dir, Func<IReadOnlyList<string>> draw)
    {
        try
        {
            draw();
            return 0;
        }
        catch (Exception e) when (e is not (ArgumentException or DataFormatException or CheckpointFormatException or IOException or InvalidDataException))
        {
            Err.WriteLine($"iwae: figures and report not written ({e.GetType().Name}: {OneLine(e.Message)}); the results are in {dir}, retry with `iwae plot --run {dir}`");
            return IwaeCommand.FiguresFailed;
        }
    }

    /// <summary>A message on one line.</summary>
    public static string OneLine(string s) => s.ReplaceLineEndings(" ");
}
