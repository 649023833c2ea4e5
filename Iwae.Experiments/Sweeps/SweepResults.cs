using System.Globalization;
using System.Text;
using Iwae.Core.Estimators;
using Iwae.Core.Models;
using Iwae.Core;

namespace Iwae.Experiments.Sweeps;

/// <summary>One run in the collected results: its options and, once done, its test figures.</summary>
/// <param name="Index">The run's task index.</param>
/// <param name="Name">Its folder name.</param>
/// <param name="Status">Where it stands.</param>
/// <param name="Model">"vae" or "iwae".</param>
/// <param name="K">Samples per input in training.</param>
/// <param name="Layers">Stochastic layers.</param>
/// <param name="Architecture">Its architecture, e.g. "784-200-200-50" (the input size is the data's).</param>
/// <param name="Estimator">The gradient estimator ("elbo" for a VAE's plain ELBO gradient; <see cref="SweepResults.EstimatorName"/>).</param>
/// <param name="Seed">The seed.</param>
/// <param name="Data">Its data, or null for the embedded subset.</param>
/// <param name="EpochsDone">Epochs trained so far.</param>
/// <param name="TotalEpochs">Epochs of its schedule.</param>
/// <param name="TestNll">Test NLL at the run's eval k (nats), once done.</param>
/// <param name="EvalK">k of that estimate.</param>
/// <param name="TestBoundK1">Test ELBO, once done.</param>
/// <param name="TestBoundK">Test bound at the training k, once done.</param>
/// <param name="ActiveUnits">Active units, once done.</param>
/// <param name="TrainSeconds">Training time, once done.</param>
public sealed record SweepResultRow(int Index, string Name, SweepRunStatus Status, string Model, int K, int Layers, string Architecture, string Estimator,
    ulong Seed, string? Data, int EpochsDone, int TotalEpochs, double? TestNll, int EvalK, double? TestBoundK1, double? TestBoundK, int? ActiveUnits, double? TrainSeconds);

/// <summary>A cell of the paper's Table 1: ours (when that run is done) and Burda et al.'s.</summary>
/// <param name="Layers">Stochastic layers.</param>
/// <param name="K">k.</param>
/// <param name="Vae">Our VAE's test NLL.</param>
/// <param name="Iwae">Our IWAE's test NLL.</param>
/// <param name="PaperVae">Burda et al.'s VAE on full MNIST, or null when the data are not MNIST.</param>
/// <param name="PaperIwae">Burda et al.'s IWAE on full MNIST, or null.</param>
public sealed record Table1Row(int Layers, int K, double? Vae, double? Iwae, double? PaperVae, double? PaperIwae);

/// <summary>`iwae sweep collect`: one table of every run (done or not), as CSV and JSON, and Table 1's layout for that preset.</summary>
public static class SweepResults
{
    /// <summary>
    /// Burda et al. (2016), Table 1, MNIST test NLL in nats (VAE, IWAE) by (layers, k). Their Omniglot column is not
    /// pinned here, so a sweep on other data shows ours alone.
    /// </summary>
    public static readonly IReadOnlyDictionary<(int Layers, int K), (double Vae, double Iwae)> PaperMnist = new Dictionary<(int, int), (double, double)>
    {
        [(1, 1)] = (86.76, 86.76), [(1, 5)] = (86.47, 85.54), [(1, 50)] = (86.35, 84.78),
        [(2, 1)] = (85.33, 85.33), [(2, 5)] = (85.01, 83.89), [(2, 50)] = (84.78, 82.90),
    };

    /// <summary>Every run of the sweep, in index order, with its state and, when done, its figures.</summary>
    public static IReadOnlyList<SweepResultRow> Collect(SweepFolder sweep, DateTime? now = null)
        => Rows(sweep.States(sweep.ReadPlan(), now ?? DateTime.UtcNow));

    /// <summary>One row per run of <paramref name="states"/> (<see cref="SweepFolder.States"/>), in their order.</summary>
    public static IReadOnlyList<SweepResultRow> Rows(IReadOnlyList<SweepRunState> states)
    {
        var rows = new List<SweepResultRow>();
        foreach (var state in states)
        {
            var run = state.Run;
            var o = run.Options;
            string model = RunFolder.ModelName(o.Config.Model);
            var r = state.Result;
            rows.Add(new SweepResultRow(run.Index, run.Name, state.Status, model, o.Config.K, o.Config.Layers, state.Architecture ?? o.Config.Architecture,
                EstimatorName(o), o.Train.Seed, o.Data, state.EpochsDone, state.TotalEpochs,
                r?.TestNll, o.EvalK, r?.TestBoundK1, r?.TestBoundK, r?.ActiveUnits, r?.TrainSeconds));
        }
        return rows;
    }

    /// <summary>
    /// The gradient a run trains on: the estimator's name, except that the default estimator of a VAE is the plain
    /// ELBO gradient, "elbo" (the IWAE estimator at uniform weights), not "iwae".
    /// </summary>
    public static string EstimatorName(SweepRunOptions o)
        => o.Config.Model == ModelKind.Vae && o.Train.Estimator == GradientEstimator.Iwae ? "elbo" : o.Train.Estimator.ToString().ToLowerInvariant();

    /// <summary>
    /// A short label for each of <paramref name="runs"/> that tells it from the others: the values of the options that
    /// differ among them, in sweep.json's order ("784-16-4 k=5", "k=50", "dreg seed=2"); the architecture when none
    /// does. Thread settings are how a run executes, not what it is, and are left out.
    /// </summary>
    public static IReadOnlyList<string> Labels(IReadOnlyList<SweepRunOptions> runs)
    {
        var flat = runs.Select(Flatten).ToArray();
        var varying = flat.Length == 0 ? [] : flat[0].Select(kv => kv.Key).Where(k => flat.Select(f => f.Find(kv => kv.Key == k).Value).Distinct().Count() > 1).ToArray();
        return [.. runs.Select((r, i) => varying.Length == 0 ? r.Config.Architecture
            : string.Join(" ", varying.Select(k => Label(k, flat[i].Find(kv => kv.Key == k).Value))))];

        static string Label(string key, string? value) => key switch
        {
            "architecture" or "estimator" or "data" or "observation" => value ?? "-",
            _ => $"{key}={value ?? "-"}",
        };
    }

    // The options as (name, value) pairs; the architecture stands for the widths and layers it is made of.
    private static List<KeyValuePair<string, string?>> Flatten(SweepRunOptions o)
    {
        string[] skip = ["model", "input_size", "layers", "hidden", "latent", "hidden2", "latent2", "total_epochs"];
        var list = new List<KeyValuePair<string, string?>> { new("architecture", o.Config.Architecture) };
        foreach (var element in new[] { System.Text.Json.JsonSerializer.SerializeToElement(o.Config, IwaeJson.Options), System.Text.Json.JsonSerializer.SerializeToElement(o.Train, IwaeJson.Options) })
            foreach (var p in element.EnumerateObject())
                if (!skip.Contains(p.Name) && p.Name != "architecture")
                    list.Add(new(p.Name, p.Value.ValueKind == System.Text.Json.JsonValueKind.String ? p.Value.GetString() : p.Value.GetRawText()));
        list.Add(new("data", o.Data));
        list.Add(new("test_fraction", o.TestFraction.ToString("R", CultureInfo.InvariantCulture)));
        list.Add(new("eval_k", o.EvalK.ToString(CultureInfo.InvariantCulture)));
        return list;
    }

    /// <summary>The CSV of <paramref name="rows"/>: a header of snake_case names, then one line per run (empty cells for figures not there yet).</summary>
    public static string Csv(IReadOnlyList<SweepResultRow> rows)
    {
        var sb = new StringBuilder("index,name,status,model,k,layers,architecture,estimator,seed,data,epochs_done,total_epochs,test_nll,eval_k,test_bound_k1,test_bound_k,active_units,train_seconds\n");
        foreach (var r in rows)
            sb.AppendLine(string.Join(",", Cell(r.Index), Cell(r.Name), Cell(r.Status.ToString().ToLowerInvariant()), Cell(r.Model), Cell(r.K), Cell(r.Layers),
                Cell(r.Architecture), Cell(r.Estimator), Cell(r.Seed), Cell(r.Data ?? ""), Cell(r.EpochsDone), Cell(r.TotalEpochs), Cell(r.TestNll), Cell(r.EvalK),
                Cell(r.TestBoundK1), Cell(r.TestBoundK), Cell(r.ActiveUnits), Cell(r.TrainSeconds)));
        return sb.ToString();

        static string Cell(object? v) => v switch
        {
            null => "",
            double d => d.ToString("R", CultureInfo.InvariantCulture),
            IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
            string s when s.IndexOfAny([',', '"', '\n']) >= 0 => "\"" + s.Replace("\"", "\"\"") + "\"",
            _ => v.ToString() ?? "",
        };
    }

    /// <summary>Writes results.csv and results.json into the sweep folder, atomically; returns their paths.</summary>
    public static (string Csv, string Json) Write(SweepFolder sweep, IReadOnlyList<SweepResultRow> rows)
    {
        string csv = sweep.File(SweepFolder.ResultsCsvFile), json = sweep.File(SweepFolder.ResultsJsonFile);
        AtomicFile.WriteAllText(csv, Csv(rows));
        AtomicFile.WriteAllText(json, IwaeJson.Serialize(new { runs = rows }));
        return (csv, json);
    }

    /// <summary>
    /// Table 1's layout: one row per (layers, k) with our VAE's and IWAE's test NLL beside Burda et al.'s (MNIST only:
    /// <paramref name="mnist"/>). Runs that share (layers, k, model) but differ otherwise (seeds) are averaged over those done.
    /// </summary>
    public static IReadOnlyList<Table1Row> Table1(IReadOnlyList<SweepResultRow> rows, bool mnist)
    {
        var cells = new List<Table1Row>();
        foreach (int layers in new[] { 1, 2 })
            foreach (int k in new[] { 1, 5, 50 })
            {
                double? Ours(string model) => rows.Where(r => r.Layers == layers && r.K == k && r.Model == model && r.TestNll is not null)
                    .Select(r => r.TestNll!.Value).DefaultIfEmpty(double.NaN).Average() is var a && double.IsNaN(a) ? null : a;
                var paper = mnist && PaperMnist.TryGetValue((layers, k), out var p) ? p : ((double, double)?)null;
                cells.Add(new Table1Row(layers, k, Ours("vae"), Ours("iwae"), paper?.Item1, paper?.Item2));
            }
        return cells;
    }
}
