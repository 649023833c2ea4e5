using System.Diagnostics;
using System.Globalization;
using Iwae.Experiments;
using Spectre.Console;

namespace Iwae.Cli;

/// <summary>
/// Shows a run's progress: a live Spectre.Console table when stdout is an interactive terminal, plain log lines
/// otherwise (CI, pipes, tests). Runs.* report through <see cref="Report"/> and <see cref="Log"/>; the body of
/// the run goes through <see cref="Run{T}"/> so a live display can own the terminal while it lasts.
/// </summary>
internal abstract class ProgressView : IProgress<RunProgress>
{
    /// <summary>A line of the run's log (epoch summaries, evaluation notices).</summary>
    public abstract void Log(string line);

    /// <summary>A structured report, after every step or image group; must be cheap.</summary>
    public abstract void Report(RunProgress p);

    /// <summary>Runs <paramref name="body"/> with the display active.</summary>
    public abstract T Run<T>(Func<T> body);

    /// <summary>Live when <paramref name="stdout"/> is the process's console and that is an interactive terminal.</summary>
    public static ProgressView For(TextWriter stdout)
        => IsLiveTerminal(stdout) ? new LiveProgress(AnsiConsole.Console) : new PlainProgress(stdout, PlainProgress.DefaultInterval);

    /// <summary>Whether <paramref name="stdout"/> is the process's console and that is an interactive terminal.</summary>
    public static bool IsLiveTerminal(TextWriter stdout)
        => ReferenceEquals(stdout, Console.Out) && !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;

    /// <summary>"2m05s", "1h02m", "12s".</summary>
    public static string FormatDuration(TimeSpan? t)
    {
        if (t is not { } d || d < TimeSpan.Zero || d.TotalDays > 99) return "-";
        if (d.TotalHours >= 1) return string.Create(CultureInfo.InvariantCulture, $"{(int)d.TotalHours}h{d.Minutes:00}m");
        if (d.TotalMinutes >= 1) return string.Create(CultureInfo.InvariantCulture, $"{(int)d.TotalMinutes}m{d.Seconds:00}s");
        return string.Create(CultureInfo.InvariantCulture, $"{(int)Math.Ceiling(d.TotalSeconds)}s");
    }

    /// <summary>"steps/s" while training, "images/s" while evaluating.</summary>
    public static string Unit(RunPhase phase) => phase == RunPhase.Train ? "steps" : "images";

    /// <summary>"training", "stage test NLL", "final evaluation".</summary>
    public static string PhaseName(RunPhase phase) => phase switch
    {
        RunPhase.Train => "training",
        RunPhase.StageEval => "stage test NLL",
        _ => "final evaluation",
    };
}

/// <summary>
/// Rate and ETA of the current phase over a sliding window of the last few seconds. A new phase (or a return
/// to training after a stage evaluation) starts a new window, so pauses never drag the rate down.
/// </summary>
internal sealed class ProgressMeter(Func<double>? clock = null)
{
    /// <summary>Seconds of history the rate is measured over.</summary>
    public const double Window = 10;

    private static readonly Stopwatch Process = Stopwatch.StartNew();
    private readonly Func<double> _clock = clock ?? (() => Process.Elapsed.TotalSeconds);
    private readonly Queue<(double T, long Done)> _samples = new();
    private (string, RunPhase, int) _key;

    /// <summary>Seconds on the meter's clock.</summary>
    public double Now => _clock();

    /// <summary>Records <paramref name="p"/>; returns units per second (NaN until half a second has been seen) and the time left.</summary>
    public (double Rate, TimeSpan? Eta) Update(RunProgress p)
    {
        double now = _clock();
        var key = (p.Model, p.Phase, p.Phase == RunPhase.StageEval ? p.Stage : 0);
        if (key != _key) { _samples.Clear(); _key = key; }
        if (_samples.Count == 0 || now - _samples.Last().T >= 0.1 || p.Done >= p.Total) _samples.Enqueue((now, p.Done));
        while (_samples.Count > 2 && now - _samples.Peek().T > Window) _samples.Dequeue();
        var (t0, d0) = _samples.Peek();
        var (t1, d1) = _samples.Last();
        if (t1 - t0 < 0.5 || d1 <= d0) return (double.NaN, null);
        double rate = (d1 - d0) / (t1 - t0);
        return (rate, TimeSpan.FromSeconds(Math.Max(0, p.Total - p.Done) / rate));
    }
}
