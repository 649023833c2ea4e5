using System.Globalization;
using Iwae.Experiments;

namespace Iwae.Cli;

/// <summary>
/// Progress as plain lines: the run's log as it comes, plus a status line (stage, epoch, lr, running bound,
/// rate, ETA) at most every <see cref="DefaultInterval"/>, so a CI log shows a long phase is moving.
/// </summary>
internal sealed class PlainProgress(TextWriter output, TimeSpan interval, Func<double>? clock = null) : ProgressView
{
    /// <summary>Time between status lines.</summary>
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromSeconds(20);

    private readonly ProgressMeter _meter = new(clock);
    private double _lastStatus = double.NaN;

    public override void Log(string line) => output.WriteLine(line);

    public override void Report(RunProgress p)
    {
        var (rate, eta) = _meter.Update(p);
        double now = _meter.Now;
        if (double.IsNaN(_lastStatus)) _lastStatus = now;
        if (double.IsNaN(rate) || now - _lastStatus < interval.TotalSeconds) return;
        _lastStatus = now;
        output.WriteLine(Status(p, rate, eta));
    }

    public override T Run<T>(Func<T> body) => body();

    /// <summary>One status line, e.g. "  vae: training, stage 3, epoch 7/40, lr 0.000848, bound -98.21, 262 steps/s, 35%, ETA 2m31s".</summary>
    public static string Status(RunProgress p, double rate, TimeSpan? eta)
    {
        var ic = CultureInfo.InvariantCulture;
        double percent = p.Total > 0 ? 100.0 * p.Done / p.Total : 0;
        string where = p.Phase == RunPhase.Train
            ? string.Create(ic, $"training, stage {p.Stage}, epoch {p.Epoch}/{p.TotalEpochs}, lr {p.LearningRate:G3}, bound {p.RunningBound:F2}")
            : string.Create(ic, $"{PhaseName(p.Phase)}, {p.Done}/{p.Total} images");
        return string.Create(ic, $"  {p.Model}: {where}, {rate:F1} {Unit(p.Phase)}/s, {percent:F0}%, ETA {FormatDuration(eta)}");
    }
}
