using System.Diagnostics;
using System.Globalization;
using Iwae.Experiments;
using Spectre.Console.Rendering;
using Spectre.Console;

namespace Iwae.Cli;

/// <summary>
/// A live table on the terminal, one row per model (phase, stage, epoch, lr, running bound, rate, a progress
/// bar, ETA) over the last few log lines; redrawn at most every <see cref="RefreshSeconds"/> so a step costs
/// nothing measurable.
/// </summary>
internal sealed class LiveProgress(IAnsiConsole console) : ProgressView
{
    /// <summary>Minimum seconds between redraws.</summary>
    public const double RefreshSeconds = 0.2;
    private const int LogLines = 6;

    private readonly ProgressMeter _meter = new();
    private readonly List<(string Model, RunProgress Last, double Rate, TimeSpan? Eta, Stopwatch Clock)> _rows = [];
    private readonly Queue<string> _log = new();
    private LiveDisplayContext? _context;
    private double _lastDraw = double.NegativeInfinity;

    public override void Log(string line)
    {
        _log.Enqueue(line);
        while (_log.Count > LogLines) _log.Dequeue();
        Draw(force: true);
    }

    public override void Report(RunProgress p)
    {
        var (rate, eta) = _meter.Update(p);
        int i = _rows.FindIndex(r => r.Model == p.Model);
        if (i < 0) _rows.Add((p.Model, p, rate, eta, Stopwatch.StartNew()));
        else
        {
            var row = _rows[i];
            // Keep the training figures (bound, lr, stage, epoch) visible while the model is evaluated.
            var last = p.Phase == RunPhase.Train ? p : p with
            {
                LearningRate = row.Last.LearningRate, RunningBound = row.Last.RunningBound,
                Stage = p.Stage > 0 ? p.Stage : row.Last.Stage, Epoch = p.TotalEpochs > 0 ? p.Epoch : row.Last.Epoch,
                TotalEpochs = p.TotalEpochs > 0 ? p.TotalEpochs : row.Last.TotalEpochs,
            };
            _rows[i] = (p.Model, last, double.IsNaN(rate) && row.Last.Phase == p.Phase ? row.Rate : rate, eta ?? (row.Last.Phase == p.Phase ? row.Eta : null), row.Clock);
        }
        Draw(force: p.Done >= p.Total);
    }

    public override T Run<T>(Func<T> body)
        => console.Live(Render()).AutoClear(false).Overflow(VerticalOverflow.Ellipsis).Start(ctx =>
        {
            _context = ctx;
            try { return body(); }
            finally { Draw(force: true); _context = null; }
        });

    private void Draw(bool force)
    {
        if (_context is null) return;
        double now = _meter.Now;
        if (!force && now - _lastDraw < RefreshSeconds) return;
        _lastDraw = now;
        _context.UpdateTarget(Render());
        _context.Refresh();
    }

    private IRenderable Render()
    {
        var ic = CultureInfo.InvariantCulture;
        // A terminal of 80 columns gets a borderless table with short labels; a wide one the full table.
        bool wide = console.Profile.Width >= 120;
        var table = new Table().Border(wide ? TableBorder.Rounded : TableBorder.None);
        string[] headers = wide
            ? ["model", "phase", "stage", "epoch", "lr", "train bound", "speed", "progress", "elapsed", "ETA"]
            : ["model", "phase", "epoch", "lr", "bound", "speed", "progress", "ETA"];
        foreach (var h in headers) table.AddColumn(new TableColumn($"[bold]{h}[/]").NoWrap());
        foreach (var (model, p, rate, eta, clock) in _rows)
        {
            bool done = p.Phase == RunPhase.Eval && p.Done >= p.Total;
            string phase = done ? "[green]done[/]" : Markup.Escape(wide ? PhaseName(p.Phase) : p.Phase switch
            {
                RunPhase.Train => "train",
                RunPhase.StageEval => "stage NLL",
                _ => "eval",
            });
            string epoch = p.TotalEpochs > 0 ? string.Create(ic, $"{p.Epoch}/{p.TotalEpochs}") : "-";
            string lr = double.IsFinite(p.LearningRate) ? p.LearningRate.ToString("G3", ic) : "-";
            string bound = double.IsFinite(p.RunningBound) ? p.RunningBound.ToString(wide ? "F2" : "F1", ic) : "-";
            string speed = !double.IsFinite(rate) ? "-" : wide ? string.Create(ic, $"{rate:F1} {Unit(p.Phase)}/s") : string.Create(ic, $"{rate:F0}/s");
            string bar = Bar(p.Total > 0 ? (double)p.Done / p.Total : 0, wide ? 20 : 10);
            string left = done ? "-" : FormatDuration(eta);
            string name = $"[bold]{Markup.Escape(model.ToUpperInvariant())}[/]";
            if (wide)
                table.AddRow(name, phase, p.Stage > 0 ? p.Stage.ToString(ic) : "-", epoch, lr, bound, speed, bar, FormatDuration(clock.Elapsed), left);
            else
                table.AddRow(name, phase, epoch, lr, bound, speed, bar, left);
        }
        var log = _log.Select(l => (IRenderable)new Markup($"[grey]{Markup.Escape(l)}[/]"));
        return new Rows(new IRenderable[] { table }.Concat(log));
    }

    private static string Bar(double fraction, int width)
    {
        fraction = Math.Clamp(fraction, 0, 1);
        int filled = (int)Math.Round(fraction * width);
        return string.Create(CultureInfo.InvariantCulture,
            $"[green]{new string('━', filled)}[/][grey]{new string('━', width - filled)}[/] {100 * fraction,3:F0}%");
    }
}
