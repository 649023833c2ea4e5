using System.Diagnostics;
using System.Globalization;
using Iwae.Core.Models;
using Iwae.ML;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers;

namespace Iwae.Bench;

/// <summary>
/// `quick anomaly [splits=nines,zeros] [seeds=5] [epochs=100] [k=5] [latent=10] [hidden=100] [eval-k=100]
/// [observation=bernoulli|gaussian] [model=iwae|vae] [pca-ranks=5,10,20] [threads=1] [data=data/digits/digits.csv]`: anomaly
/// detection on scikit-learn's 8x8 digits (data/digits, values / 16). Split "nines": the normal rows are the digits 0-8,
/// 80% of them (a seeded shuffle) for training; the test set is the other 20% and every 9. Split "zeros" holds out the
/// 0s instead. For each seed 1..S, our detector (Iwae.ML, seeded alike) and ML.NET's randomized PCA (at each rank) are fitted on the
/// same training rows and scored on the same test rows; one line per split and method gives the mean and standard
/// deviation over the seeds of the AUROC and the average precision, then the seconds each fit and score took.
/// </summary>
public static class AnomalyQuick
{
    private sealed class Row
    {
        [VectorType(64)] public float[] Features { get; set; } = [];
    }

    public static void Run(string[] args)
    {
        var opt = Scenarios.QuickOptions(args);
        string Get(string key, string fallback) => opt.TryGetValue(key, out var v) ? v : fallback;
        int Int(string key, int fallback) => int.Parse(Get(key, fallback.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);
        string[] splits = Get("splits", "nines,zeros").Split(',');
        int seeds = Int("seeds", 5);
        int[] pcaRanks = [.. Get("pca-ranks", "5,10,20").Split(',').Select(r => int.Parse(r, CultureInfo.InvariantCulture))];
        var options = new IwaeAnomalyOptions
        {
            Epochs = Int("epochs", 100), K = Int("k", 5), Latent = Int("latent", 10),
            HiddenLayers = [.. Get("hidden", "100").Split(',').Select(h => int.Parse(h, CultureInfo.InvariantCulture))],
            EvaluationK = Int("eval-k", 100), Threads = Int("threads", 1),
            Observation = Enum.Parse<Observation>(Get("observation", "bernoulli"), ignoreCase: true),
            Model = Enum.Parse<ModelKind>(Get("model", "iwae"), ignoreCase: true),
            DecoderVariance = ModelConfig.VarianceNamed(Get("variance", "fixed"))
                ?? throw new ArgumentException($"variance must be fixed, shared or per-dimension, got '{Get("variance", "fixed")}'"),
            Standardize = Get("standardize", "no") == "yes",
        };
        var (x, labels) = ReadDigits(Get("data", DefaultPath()));

        string ours = $"{options.Model.ToString().ToLowerInvariant()} {options.Observation.ToString().ToLowerInvariant()}{(options.Observation == Observation.Gaussian ? $" sigma {options.DecoderVariance.ToString().ToLowerInvariant()}" : "")}{(options.Standardize ? " standardised" : "")} 64-{string.Join("-", options.HiddenLayers)}-{options.Latent} k={options.K} {options.Epochs} epochs, eval k={options.EvaluationK}";
        Console.WriteLine(FormattableString.Invariant($"# anomaly: digits ({labels.Length} images, 8x8, values/16), {seeds} seeds; ours: {ours}; randomized PCA ranks {string.Join(",", pcaRanks)} (20 is ML.NET's default)"));
        foreach (string split in splits)
        {
            int anomaly = split switch { "nines" => 9, "zeros" => 0, _ => throw new ArgumentException($"split must be nines or zeros, got '{split}'") };
            var results = new Dictionary<string, List<(double Auroc, double Ap, double Seconds)>> { [options.Model.ToString().ToLowerInvariant()] = [] };
            foreach (int rank in pcaRanks) results[$"pca-rank-{rank}"] = [];
            for (int seed = 1; seed <= seeds; seed++)
            {
                var (train, test, isAnomaly) = Split(x, labels, anomaly, seed);
                var ml = new MLContext(seed: seed);
                var trainView = ml.Data.LoadFromEnumerable(train);
                var testView = ml.Data.LoadFromEnumerable(test);

                var sw = Stopwatch.StartNew();
                options.Seed = (ulong)seed;
                var scored = ml.AnomalyDetection.Trainers.Iwae(options).Fit(trainView).Transform(testView);
                results[options.Model.ToString().ToLowerInvariant()].Add(Metrics(scored.GetColumn<float>("Score").ToArray(), isAnomaly, sw.Elapsed.TotalSeconds));

                foreach (int rank in pcaRanks)
                {
                    sw.Restart();
                    var pca = ml.AnomalyDetection.Trainers.RandomizedPca(new RandomizedPcaTrainer.Options { Rank = rank, Seed = seed, EnsureZeroMean = true });
                    var pcaScored = pca.Fit(trainView).Transform(testView);
                    results[$"pca-rank-{rank}"].Add(Metrics(pcaScored.GetColumn<float>("Score").ToArray(), isAnomaly, sw.Elapsed.TotalSeconds));
                }
            }
            foreach (var (method, r) in results)
                Console.WriteLine(FormattableString.Invariant(
                    $"anomaly split={split} method={method} auroc={Mean(r.Select(t => t.Auroc)):F4}+-{Sd(r.Select(t => t.Auroc)):F4} ap={Mean(r.Select(t => t.Ap)):F4}+-{Sd(r.Select(t => t.Ap)):F4} s={Mean(r.Select(t => t.Seconds)):F1} per-seed-auroc={string.Join(",", r.Select(t => t.Auroc.ToString("F4", CultureInfo.InvariantCulture)))}"));
        }
    }

    private static (double, double, double) Metrics(float[] scores, bool[] isAnomaly, double seconds)
        => (AnomalyMetrics.AreaUnderRoc(scores, isAnomaly), AnomalyMetrics.AveragePrecision(scores, isAnomaly), seconds);

    private static double Mean(IEnumerable<double> v) => v.Average();

    /// <summary>The sample standard deviation (n - 1).</summary>
    private static double Sd(IEnumerable<double> v)
    {
        var a = v.ToArray();
        if (a.Length < 2) return 0;
        double m = a.Average();
        return Math.Sqrt(a.Sum(t => (t - m) * (t - m)) / (a.Length - 1));
    }

    /// <summary>Training rows: 80% of the normal rows (a shuffle seeded by <paramref name="seed"/>); test rows: the rest and every anomaly.</summary>
    private static (List<Row> Train, List<Row> Test, bool[] IsAnomaly) Split(float[][] x, int[] labels, int anomaly, int seed)
    {
        var normal = Enumerable.Range(0, labels.Length).Where(i => labels[i] != anomaly).ToArray();
        new Random(seed).Shuffle(normal);
        int nTrain = normal.Length * 4 / 5;
        var train = normal[..nTrain].Select(i => new Row { Features = x[i] }).ToList();
        var testIdx = normal[nTrain..].Concat(Enumerable.Range(0, labels.Length).Where(i => labels[i] == anomaly)).ToArray();
        return (train, [.. testIdx.Select(i => new Row { Features = x[i] })], [.. testIdx.Select(i => labels[i] == anomaly)]);
    }

    private static (float[][] X, int[] Labels) ReadDigits(string path)
    {
        var lines = File.ReadAllLines(path).Skip(1).Where(l => l.Length > 0).ToArray();
        var x = new float[lines.Length][];
        var labels = new int[lines.Length];
        for (int i = 0; i < lines.Length; i++)
        {
            var f = lines[i].Split(',');
            labels[i] = int.Parse(f[0], CultureInfo.InvariantCulture);
            x[i] = [.. f.Skip(1).Select(v => int.Parse(v, CultureInfo.InvariantCulture) / 16f)];
            if (x[i].Length != 64) throw new InvalidDataException($"{path}: line {i + 2} has {x[i].Length} values, expected 64");
        }
        return (x, labels);
    }

    private static string DefaultPath()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string p = Path.Combine(dir.FullName, "data", "digits", "digits.csv");
            if (File.Exists(p)) return p;
        }
        throw new FileNotFoundException("data/digits/digits.csv not found above the program's folder; give data=PATH");
    }
}
