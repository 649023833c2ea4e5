using Iwae.Core;
using Iwae.Core.Estimators;
using Iwae.Core.Models;

namespace Iwae.Experiments.Sweeps;

/// <summary>A VAE and an IWAE run of a sweep that differ in nothing but the model: one row of its pairs table.</summary>
/// <param name="Label">What tells this pair from the others: its architecture, k, estimator... (<see cref="SweepResults.Labels"/>).</param>
/// <param name="Vae">The VAE run.</param>
/// <param name="Iwae">The IWAE run.</param>
public sealed record SweepPair(string Label, SweepResultRow Vae, SweepResultRow Iwae);

/// <summary>
/// What a sweep folder's report shows: every run's row (<see cref="SweepResults"/>), the VAE and IWAE pairs, Table 1's
/// layout for that preset, and each run's state. Works on a sweep that is partly done.
/// </summary>
/// <param name="Sweep">The sweep folder.</param>
/// <param name="Rows">Every run, in index order, with its state and, when done, its figures.</param>
/// <param name="States">Every run's state as read from its files (an invalid one says why in its detail).</param>
/// <param name="Pairs">The VAE and IWAE runs that differ only in the model (<see cref="Pair"/>).</param>
/// <param name="Table1">Table 1's layout (<see cref="SweepResults.Table1"/>) when the sweep is that preset, else null.</param>
/// <param name="ResultsCsv">results.csv, written.</param>
/// <param name="ResultsJson">results.json, written.</param>
public sealed record SweepAnalysis(SweepFolder Sweep, IReadOnlyList<SweepResultRow> Rows, IReadOnlyList<SweepRunState> States, IReadOnlyList<SweepPair> Pairs,
    IReadOnlyList<Table1Row>? Table1, string ResultsCsv, string ResultsJson)
{
    /// <summary>
    /// `iwae sweep collect`: reads every run's state and results, writes results.csv and results.json into the sweep
    /// folder, and pairs the runs.
    /// </summary>
    public static SweepAnalysis Collect(SweepFolder sweep, Action<string>? log = null, DateTime? now = null)
    {
        var plan = sweep.ReadPlan();
        var states = sweep.States(plan, now ?? DateTime.UtcNow);
        var rows = SweepResults.Rows(states);
        var (csv, json) = SweepResults.Write(sweep, rows);
        log?.Invoke($"sweep results: {csv}, {json}");
        var table1 = plan.Preset == SweepPlanner.BurdaTable1 ? SweepResults.Table1(rows, mnist: plan.Runs[0].Options.Data is "mnist") : null;
        return new SweepAnalysis(sweep, rows, states, Pair(plan, rows), table1, csv, json);
    }

    /// <summary>
    /// The VAE and IWAE runs that differ only in the model (and the estimator, which a VAE does not use), each pair
    /// labelled by what tells it from the other pairs (<see cref="SweepResults.Labels"/>: its architecture, k, estimator...).
    /// </summary>
    public static IReadOnlyList<SweepPair> Pair(SweepPlan plan, IReadOnlyList<SweepResultRow> rows)
    {
        string Key(SweepRun r) => IwaeJson.Serialize(r.Options with
        {
            Config = r.Options.Config with { Model = ModelKind.Iwae },
            Train = r.Options.Train with { Estimator = GradientEstimator.Iwae, Groups = 1, Beta = 0.5 },
        });
        var matched = new List<(SweepRun Vae, SweepRun Iwae)>();
        foreach (var vae in plan.Runs.Where(r => r.Options.Config.Model == ModelKind.Vae))
        {
            var iwae = plan.Runs.FirstOrDefault(r => r.Options.Config.Model == ModelKind.Iwae && Key(r) == Key(vae));
            if (iwae is not null) matched.Add((vae, iwae));
        }
        var labels = SweepResults.Labels([.. matched.Select(m => m.Iwae.Options)]);
        return [.. matched.Select((m, i) => new SweepPair(labels[i], rows[m.Vae.Index], rows[m.Iwae.Index]))];
    }
}
