using System.Globalization;
using Iwae.Core;
using Iwae.Experiments;

namespace Iwae.Cli.Commands;

/// <summary>What `compare`, `train` and `eval` print at the end.</summary>
internal static class Output
{
    /// <summary>The side-by-side table of `iwae compare`.</summary>
    public static string Table(RunResults c)
    {
        var vae = c.Model("vae")!;
        var iwae = c.Model("iwae")!;
        var w = new StringWriter(CultureInfo.InvariantCulture);
        string evalK = c.EvalK.ToString(CultureInfo.InvariantCulture);
        w.WriteLine($"{"",-28}{"VAE",12}{"IWAE",12}");
        Row($"test NLL (k={evalK})", vae.TestNll, iwae.TestNll, "F2");
        Row("test bound (k=1)", vae.TestBoundK1, iwae.TestBoundK1, "F2");
        if (c.Config.K != 1) Row($"test bound (k={c.Config.K})", vae.TestBoundK, iwae.TestBoundK, "F2");
        Row("active units", vae.ActiveUnits, iwae.ActiveUnits, "F0");
        Row("train time (s)", vae.TrainSeconds, iwae.TrainSeconds, "F1");
        Row("eval time (s)", vae.EvalSeconds, iwae.EvalSeconds, "F1");
        Row("epochs", vae.Epochs, iwae.Epochs, "F0");
        return w.ToString();

        void Row(string label, double a, double b, string f) =>
            w.WriteLine($"{label,-28}{a.ToString(f, CultureInfo.InvariantCulture),12}{b.ToString(f, CultureInfo.InvariantCulture),12}");
    }

    /// <summary>The schedule line of `train` and `compare`: "schedule: burda: 5 stages, 121 epochs, lr 0.001 * 10^(-(i-1)/7) in stage i".</summary>
    public static string Schedule(Iwae.Core.Training.TrainOptions options) => $"schedule: {options.DescribeSchedule()}";

    /// <summary>
    /// What validation decided for a model trained with a validation split, on one line, or null without one: the best
    /// epoch and bound, whether training stopped early, and which weights the test figures are of.
    /// </summary>
    public static string? Validation(ModelResult r)
    {
        if (r.Validation is not { } v) return null;
        string stopped = v.StoppedEarly ? $"stopped early after epoch {v.Epochs} (patience {v.Patience})" : $"trained all {v.Epochs} epochs";
        string weights = v.EvaluatedWeights == "best" ? $"test figures are of epoch {v.BestEpoch}'s weights" + (v.Checkpoint is null ? "" : $" ({v.Checkpoint})") : "test figures are of the last weights";
        return string.Create(CultureInfo.InvariantCulture,
            $"{r.Model} validation ({v.Images} held-out training examples, k={v.K}): best bound {v.BestBound:F2} at epoch {v.BestEpoch}; {stopped}; {weights}");
    }

    /// <summary>
    /// One model's figures on one line; the bound at the model's k only when that is not 1, the training time only
    /// when <paramref name="trained"/> (`eval` trains nothing).
    /// </summary>
    public static string Result(ModelResult r, bool trained)
    {
        string boundK = r.K == 1 ? "" : string.Create(CultureInfo.InvariantCulture, $", bound k={r.K} {r.TestBoundK:F2}");
        string units = r.ActiveUnitsPerLayer.Length > 1 ? string.Join("+", r.ActiveUnitsPerLayer) : r.ActiveUnits.ToString(CultureInfo.InvariantCulture);
        string train = trained ? string.Create(CultureInfo.InvariantCulture, $", train {r.TrainSeconds:F1}s") : "";
        return string.Create(CultureInfo.InvariantCulture,
            $"{r.Model} k={r.K}: test NLL (k={r.EvalK}) {r.TestNll:F2}, bound k=1 {r.TestBoundK1:F2}{boundK}, active units {units}{train}, eval {r.EvalSeconds:F1}s");
    }

    /// <summary>
    /// `eval --json`: one JSON object of what an evaluation measures, every number at full (round-trip) precision, in
    /// results.json's names: checkpoint, data, model, k, test_nll, eval_k, test_bound_k1, test_bound_k, active_units,
    /// active_units_per_layer, unit_variances, eval_seconds.
    /// </summary>
    public static string EvalJson(ModelResult r, string? data) => IwaeJson.Serialize(new
    {
        r.Checkpoint,
        Data = data,
        r.Model,
        r.K,
        r.TestNll,
        r.EvalK,
        r.TestBoundK1,
        r.TestBoundK,
        r.ActiveUnits,
        r.ActiveUnitsPerLayer,
        r.UnitVariances,
        r.EvalSeconds,
    });
}
